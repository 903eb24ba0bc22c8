// Sign in with phone and PIN, or with a one-time code sent by SMS.
import { ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { LOCALES, locale, setLocale, t } from "../i18n.js";
import { requestCode, signIn } from "../session.js";

export function loginView(app, { expired = false, phone = "" } = {}) {
  let mode = "pin";
  const message = h("p", { class: "form-error", role: "alert", id: "login-error" });
  const info = h("p", { class: "hint", role: "status" });
  const phoneInput = h("input", {
    id: "phone",
    name: "phone",
    type: "tel",
    inputmode: "tel",
    autocomplete: "tel",
    required: true,
    value: phone,
  });
  const pinInput = h("input", {
    id: "pin",
    name: "pin",
    type: "password",
    inputmode: "numeric",
    autocomplete: "current-password",
  });
  const codeInput = h("input", {
    id: "otp",
    name: "otp",
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 6,
  });
  const sendCode = h("button", { type: "button", class: "secondary", id: "send-code" });
  const submit = h("button", { type: "submit", class: "primary", id: "sign-in" });
  const switcher = h("button", { type: "button", class: "link", id: "switch-mode" });
  const pinField = h("label", { class: "field" }, h("span", { id: "pin-label" }), pinInput);
  const codeField = h("label", { class: "field" }, h("span", { id: "otp-label" }), codeInput);
  const language = h("button", {
    type: "button",
    class: "link",
    id: "language",
    onclick: async () => {
      await setLocale(LOCALES.find((l) => l !== locale()));
      app.chrome();
      paint();
    },
  });

  function paint() {
    heading.textContent = t("login.title");
    phoneLabel.textContent = t("login.phone");
    pinField.querySelector("span").textContent = t("login.pin");
    codeField.querySelector("span").textContent = t("login.code");
    sendCode.textContent = t("login.send_code");
    submit.textContent = t("login.submit");
    switcher.textContent = mode === "pin" ? t("login.use_otp") : t("login.use_pin");
    language.textContent = t("login.other_language");
    pinField.hidden = mode !== "pin";
    codeField.hidden = mode !== "otp";
    sendCode.hidden = mode !== "otp";
    expiredNote.textContent = expired ? t("login.expired") : "";
    expiredNote.hidden = !expired;
  }

  function fail(error) {
    if (error instanceof NetworkError) return t("login.offline");
    if (error instanceof ApiError) {
      if (error.status === 429 && error.code === "locked") {
        return t("login.locked", { minutes: Math.max(1, Math.ceil((error.retryAfter || 60) / 60)) });
      }
      if (error.status === 429) return t("login.throttled");
      if (error.status === 422 && error.fields.phone) return t("login.invalid_phone");
      if (error.status === 401) return mode === "otp" ? t("login.otp_failed") : t("login.failed");
    }
    return t("error.generic");
  }

  sendCode.addEventListener("click", async () => {
    message.textContent = "";
    if (!phoneInput.value.trim()) {
      message.textContent = t("login.invalid_phone");
      return;
    }
    sendCode.disabled = true;
    try {
      await requestCode(phoneInput.value.trim());
      info.textContent = t("login.code_sent");
      codeInput.focus();
    } catch (error) {
      message.textContent = fail(error);
    } finally {
      sendCode.disabled = false;
    }
  });

  switcher.addEventListener("click", () => {
    mode = mode === "pin" ? "otp" : "pin";
    message.textContent = "";
    info.textContent = "";
    paint();
  });

  const heading = h("h1");
  const phoneLabel = h("span");
  const expiredNote = h("p", { class: "notice", id: "expired-note" });
  const form = h(
    "form",
    { class: "login", novalidate: true },
    heading,
    expiredNote,
    h("label", { class: "field" }, phoneLabel, phoneInput),
    pinField,
    sendCode,
    info,
    codeField,
    message,
    submit,
    switcher,
    language,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const secret = (mode === "pin" ? pinInput.value : codeInput.value).trim();
    if (!phoneInput.value.trim() || !secret) {
      // Not "wrong": say what is still empty.
      const missing = !phoneInput.value.trim() ? "phone" : mode === "pin" ? "pin" : "code";
      message.textContent = t(`login.need_${missing}`);
      return;
    }
    submit.disabled = true;
    try {
      await signIn(phoneInput.value.trim(), secret, mode);
      await app.signedIn();
    } catch (error) {
      message.textContent = fail(error);
    } finally {
      submit.disabled = false;
    }
  });
  paint();
  app.mount(form);
  (phone ? (mode === "pin" ? pinInput : codeInput) : phoneInput).focus();
}
