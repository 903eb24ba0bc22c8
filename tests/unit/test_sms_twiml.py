"""The webhook's TwiML answer is exactly what twilio's MessagingResponse would write."""

from __future__ import annotations

import pytest
from twilio.twiml.messaging_response import MessagingResponse

from server.blueprints.sms_inbound import twiml_text


def _twilio(text: str | None) -> str:
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return str(answer)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "【暖心探访】收到，谢谢您的回复！",
        "Tanfang: DONE A7K3 <mood 1-5> & a note > nothing",
        "&amp; &lt; already escaped",
        "quotes \" and ' and a\nnewline\ttab",
        "emoji 🙂 and full-width ＤＯＮＥ",
    ],
)
def test_the_answer_is_twilios(text: str | None) -> None:
    assert twiml_text(text) == _twilio(text)
