// Small DOM helpers. Text is always set as text (never innerHTML), so names and notes
// cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replace an element's children (null, false and undefined are left out). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** A face for mood 1 (very low) to 5 (very good), drawn (emoji fonts vary on phones). */
export function face(mood) {
  const colours = ["#c0392b", "#e67e22", "#d4ac0d", "#7cb342", "#2e8b57"];
  const curve = (mood - 3) * 7; // mouth: frown below 3, smile above
  return s(
    "svg",
    { viewBox: "0 0 48 48", class: "face", "aria-hidden": "true", focusable: "false" },
    s("circle", { cx: 24, cy: 24, r: 22, fill: colours[mood - 1] }),
    s("circle", { cx: 16.5, cy: 19, r: 3, fill: "#1b1f24" }),
    s("circle", { cx: 31.5, cy: 19, r: 3, fill: "#1b1f24" }),
    s("path", {
      d: `M14 ${33 - curve / 3} Q24 ${33 + curve} 34 ${33 - curve / 3}`,
      stroke: "#1b1f24",
      "stroke-width": 3,
      fill: "none",
      "stroke-linecap": "round",
    }),
  );
}

let bannerTimer = null;

/** A message under the header; `action` adds a button. */
export function banner(text, { kind = "info", action = null, sticky = false } = {}) {
  const el = document.getElementById("banner");
  clearTimeout(bannerTimer);
  el.replaceChildren(h("span", {}, text));
  el.className = `banner ${kind}`;
  if (action) {
    el.append(h("button", { type: "button", onclick: action.run }, action.label));
  }
  el.hidden = false;
  if (!sticky) bannerTimer = setTimeout(() => (el.hidden = true), 8000);
}

export function hideBanner() {
  clearTimeout(bannerTimer);
  document.getElementById("banner").hidden = true;
}

/** A modal question; resolves to the value of the button pressed. */
export function ask(text, buttons) {
  const dialog = document.getElementById("dialog");
  document.getElementById("dialog-text").textContent = text;
  document.getElementById("dialog-actions").replaceChildren(
    ...buttons.map((b) =>
      h("button", { value: b.value, class: b.kind || "", type: "submit" }, b.label),
    ),
  );
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}
