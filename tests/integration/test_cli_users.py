"""`tanfang user create` and `tanfang user set-pin`, and the commands' exit statuses."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Worker
from server.services.areas import add_area
from tests.conftest import Cli


def test_user_create_then_sign_in(cli: Cli, client: FlaskClient, session: Session) -> None:
    add_area(session, "640000", "宁夏回族自治区", "region", None)
    session.commit()
    result = cli(
        "user",
        "create",
        "--phone",
        "139 5100 0001",
        "--name",
        "马文华",
        "--role",
        "supervisor",
        "--area",
        "640000",
        "--pin",
        "4321",
    )
    assert result.exit_code == 0, result.output
    assert "13951000001" not in result.output  # the phone is masked in the output
    worker = session.scalar(select(Worker).where(Worker.phone == "+8613951000001"))
    assert worker is not None and worker.role == "supervisor"
    assert [a.code for a in worker.areas] == ["640000"]
    token = client.post("/api/v1/auth/token", json={"phone": "13951000001", "pin": "4321"})
    assert token.status_code == 200


def test_set_pin_replaces_the_old_pin_and_signs_out(cli: Cli, client: FlaskClient) -> None:
    assert (
        cli(
            "user",
            "create",
            "--phone",
            "13951000002",
            "--name",
            "李建国",
            "--role",
            "grid_worker",
            "--pin",
            "1111",
        ).exit_code
        == 0
    )
    old = client.post("/api/v1/auth/token", json={"phone": "13951000002", "pin": "1111"})
    headers = {"Authorization": f"Bearer {old.get_json()['token']}"}
    result = cli("user", "set-pin", "+86 139-5100-0002", "2222")
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert (
        client.post("/api/v1/auth/token", json={"phone": "13951000002", "pin": "1111"}).status_code
        == 401
    )
    assert (
        client.post("/api/v1/auth/token", json={"phone": "13951000002", "pin": "2222"}).status_code
        == 200
    )


def test_bad_input_exits_1_and_misuse_exits_2(cli: Cli) -> None:
    bad_phone = cli("user", "create", "--phone", "12345", "--name", "x", "--role", "admin")
    assert bad_phone.exit_code == 1
    assert "--phone" in bad_phone.output
    bad_pin = cli(
        "user",
        "create",
        "--phone",
        "13951000003",
        "--name",
        "x",
        "--role",
        "admin",
        "--pin",
        "12ab",
    )
    assert bad_pin.exit_code == 1 and "--pin" in bad_pin.output
    unknown_area = cli(
        "user",
        "create",
        "--phone",
        "13951000004",
        "--name",
        "x",
        "--role",
        "admin",
        "--area",
        "999",
    )
    assert unknown_area.exit_code == 1 and "999" in unknown_area.output
    assert cli("user", "create", "--phone", "13951000005").exit_code == 2
    assert cli("user", "create", "--phone", "1", "--name", "x", "--role", "boss").exit_code == 2
    assert cli("user", "set-pin", "13951009999", "1234").exit_code == 1
