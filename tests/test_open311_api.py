"""The Open311 GeoReport v2 server over real HTTP, as existing clients use it: discovery, services and their
definitions, POST requests (the spec's example, FixMyStreet's form), tokens, GET requests with filters and
GET requests/<id>, in JSON and XML, with the spec's errors."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from sqlalchemy import select

from channels.open311.models import Open311Partner, Open311Request
from channels.open311.partners import add_partner, revoke_partner
from intake import Contact, Report, submit
from intake.cases import apply, get_case
from intake.models import Attachment, Case, ReportRecord, utcnow
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action
from tests.support import RecordingServer, fixture_path, recording_server
from tests.test_cli import env_for, gridline

API = "/open311/v2"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9"
FORM = "application/x-www-form-urlencoded; charset=utf-8"

SETTINGS: dict[str, Any] = {
    "jurisdiction_id": "huairou.gov.cn",
    "language": "zh",
    "contact": "怀柔区12345市民服务热线 12345@huairou.gov.cn",
    "key_service": "API keys: 12345@huairou.gov.cn",
    "changeset": "2025-06-01 00:00",
    "services": [
        {
            "service_code": "001",
            "service_name": "井盖缺失或破损",
            "category": "manhole-cover",
            "group": "公用设施",
            "keywords": ["井盖", "窨井"],
            "description": "道路、人行道上的井盖缺失、破损或松动。",
            "service_notice": "接报后24小时内处置。",
            "attributes": [
                {"code": "WHISPAWN", "datatype": "string", "required": True, "description": "井盖编号"},
                {
                    "code": "WHISDORN",
                    "datatype": "singlevaluelist",
                    "description": "井盖情况",
                    "values": [{"key": "COISL001", "name": "缺失"}, {"key": "COISL002", "name": "破损"}],
                },
                {"code": "SAFETY", "variable": False, "datatype": "text", "description": "请勿靠近井口。"},
            ],
        },
        {
            "service_code": "002",
            "service_name": "路灯不亮",
            "category": "street-light",
            "group": "公用设施",
            "type": "batch",
            "attributes": [
                {"code": "pole", "datatype": "string", "description": "灯杆编号", "order": 2},
                {
                    "code": "fault",
                    "datatype": "multivaluelist",
                    "description": "故障情况",
                    "order": 1,
                    "values": [
                        {"key": "dark", "name": "不亮"},
                        {"key": "flicker", "name": "闪烁"},
                        {"key": "daytime", "name": "白天常亮"},
                    ],
                },
            ],
        },
        {"service_code": "003", "service_name": "暴露垃圾", "category": "garbage", "type": "blackbox"},
    ],
}


@pytest.fixture
def open311(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """Our services, and a real HTTP peer serving the partners' photos."""
    monkeypatch.setattr(runtime.config, "open311", json.loads(json.dumps(SETTINGS)))
    with recording_server() as peer:
        peer.route("/photo/", 200, JPEG, content_type="image/jpeg")
        peer.route("/2010-04-01/", 201, fixture_path("sms", "rest_message_created.json").read_bytes())
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", peer.url)
        # The partners' photo host is on loopback here: allowed explicitly (downloads need public addresses).
        monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
        yield peer


@pytest.fixture
def api_key(runtime: Runtime, open311: RecordingServer) -> str:
    with runtime.db.transaction() as session:
        return add_partner(session, "fixmystreet")


def captured(name: str, peer: RecordingServer | None = None, **replace: str) -> list[tuple[str, str]]:
    """A captured form as (name, value) pairs; photo URLs pointed at ``peer``, some values replaced."""
    text = fixture_path("open311", name).read_text().strip()
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
    out = []
    for key, value in pairs:
        if key == "media_url" and peer is not None:
            value = peer.url + "/photo/" + value.rsplit("/", 1)[-1]
        out.append((key, replace.get(key, value)))
    return out


def post(base: str, pairs: list[tuple[str, str]], fmt: str = "json", **kwargs: Any) -> requests.Response:
    """POST a request the way GeoReport clients do: form-encoded."""
    return requests.post(
        f"{base}{API}/requests.{fmt}",
        data=urllib.parse.urlencode(pairs),
        headers={"Content-Type": FORM},
        timeout=10,
        **kwargs,
    )


def get(base: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{base}{API}/{path}", params=params, timeout=10)


def xml(response: requests.Response) -> ElementTree.Element:
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)


def spec_example(key: str, peer: RecordingServer) -> list[tuple[str, str]]:
    return captured("post_request_spec_example.txt", peer, api_key=key, jurisdiction_id="huairou.gov.cn")


def test_discovery_names_the_endpoint_in_both_formats(live_server: str, open311: RecordingServer) -> None:
    found = requests.get(f"{live_server}/open311/discovery.json", timeout=10)
    assert found.headers["Content-Type"] == "application/json; charset=utf-8"
    document = found.json()
    assert document["changeset"] == "2025-06-01 00:00" and "12345@huairou.gov.cn" in document["contact"]
    [endpoint] = document["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "https://hotline.gridline.test/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"] and endpoint["type"] == "production"
    root = xml(requests.get(f"{live_server}/open311/discovery.xml", timeout=10))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_services_are_listed_in_json_and_xml(live_server: str, open311: RecordingServer) -> None:
    listed = get(live_server, "services.json", jurisdiction_id="huairou.gov.cn")
    assert listed.status_code == 200 and listed.headers["Content-Type"] == "application/json; charset=utf-8"
    services = listed.json()
    assert [s["service_code"] for s in services] == ["001", "002", "003"]
    assert services[0] == {
        "service_code": "001",
        "service_name": "井盖缺失或破损",
        "description": "道路、人行道上的井盖缺失、破损或松动。",
        "metadata": True,
        "type": "realtime",
        "keywords": "井盖, 窨井",
        "group": "公用设施",
    }
    assert services[2]["metadata"] is False and services[2]["type"] == "blackbox"
    for path in ("services.xml", "services"):  # XML is the spec's required format, and the default
        root = xml(get(live_server, path))
        assert root.tag == "services" and len(root.findall("service")) == 3
        first = root.find("service")
        assert first is not None and first.findtext("service_code") == "001"
        assert first.findtext("metadata") == "true" and first.findtext("service_name") == "井盖缺失或破损"


def test_with_no_services_configured_the_taxonomy_is_offered(
    runtime: Runtime, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.config, "open311", {})
    services = get(live_server, "services.json").json()
    codes = {s["service_code"] for s in services}
    assert {"manhole-cover", "street-light", "garbage"} <= codes
    light = next(s for s in services if s["service_code"] == "street-light")
    assert light["service_name"] == "路灯" and light["group"] == "部件 · 公用设施" and light["metadata"] is False


def test_a_service_definition_lists_its_attributes(live_server: str, open311: RecordingServer) -> None:
    definition = get(live_server, "services/002.json").json()
    assert definition["service_code"] == "002"
    assert [(a["order"], a["code"]) for a in definition["attributes"]] == [(1, "fault"), (2, "pole")]
    fault = definition["attributes"][0]
    assert fault["variable"] is True and fault["datatype"] == "multivaluelist" and fault["required"] is False
    assert fault["values"] == [
        {"key": "dark", "name": "不亮"},
        {"key": "flicker", "name": "闪烁"},
        {"key": "daytime", "name": "白天常亮"},
    ]
    assert "values" not in definition["attributes"][1]  # a string has none
    root = xml(get(live_server, "services/001.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "001"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["WHISPAWN", "WHISDORN", "SAFETY"]
    assert attributes[0].findtext("required") == "true" and attributes[2].findtext("variable") == "false"
    assert [v.findtext("key") for v in attributes[1].findall("values/value")] == ["COISL001", "COISL002"]
    assert get(live_server, "services/003.json").json() == {"service_code": "003", "attributes": []}


def test_an_unknown_service_or_jurisdiction_is_not_found(live_server: str, open311: RecordingServer) -> None:
    missing = get(live_server, "services/999.json")
    assert missing.status_code == 404
    [error] = missing.json()
    assert error["code"] == 404 and "999" in error["description"]
    root = xml(get(live_server, "services/999.xml"))
    assert root.tag == "errors" and root.findtext("error/code") == "404"
    elsewhere = get(live_server, "services.json", jurisdiction_id="sfgov.org")
    assert elsewhere.status_code == 404 and "jurisdiction_id" in elsewhere.json()[0]["description"]
    # Optional means optional: empty is the same as not sent.
    assert get(live_server, "services.json", jurisdiction_id="").status_code == 200


def test_the_spec_example_request_files_a_case(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str, run_worker: Callable[[], None]
) -> None:
    answer = post(live_server, spec_example(api_key, open311))
    assert answer.status_code == 200, answer.text
    [filed] = answer.json()
    assert set(filed) == {"service_request_id", "service_notice", "account_id"}  # realtime: the id, no token
    assert filed["service_notice"] == "接报后24小时内处置。" and filed["account_id"] == "123456"
    number = filed["service_request_id"]
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        report = session.scalars(select(ReportRecord).where(ReportRecord.case_id == case.id)).one()
        assert case.channel == "partner" and case.category == "manhole-cover"
        assert (case.lat, case.lon, case.address) == (37.76524078, -122.4212043, "1234 5th street")
        assert case.description == "A large sinkhole is destroying the street\n\n井盖编号: 123456\n井盖情况: 缺失"
        assert (report.contact_email, report.contact_name, report.contact_phone) == (
            "smit333@sfgov.edu",
            "john smith",
            "111111111",
        )
        assert report.meta["attributes"] == {"WHISPAWN": "123456", "WHISDORN": "COISL001"}
        assert report.meta["partner"] == "fixmystreet" and report.meta["device_id"] == "tt222111"
        # Only the key's hash is kept: not in the raw payload, not in the partners table.
        assert b"api_key" not in report.raw and api_key.encode() not in report.raw
        partner = session.scalars(select(Open311Partner)).one()
        assert partner.key_hash != api_key and len(partner.key_hash) == 64 and partner.last_used_at is not None
    # media_url: the worker downloads the photo.
    run_worker()
    assert [r.path for r in open311.requests] == ["/photo/2212426634_5ed477a060.jpg"]
    with runtime.db.transaction() as session:
        photo = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
        assert (photo.status, photo.size, photo.filename) == ("stored", len(JPEG), "2212426634_5ed477a060.jpg")


def test_a_fixmystreet_request_gets_a_token_then_its_id(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str, run_worker: Callable[[], None]
) -> None:
    """FixMyStreet reads XML; a batch service answers with a token it looks up at tokens/<token>.xml."""
    answer = post(live_server, captured("post_request_fixmystreet.txt", open311, api_key=api_key), fmt="xml")
    assert answer.status_code == 200, answer.text
    root = xml(answer)
    assert root.tag == "service_requests" and root.find("request/service_request_id") is None
    token = root.findtext("request/token")
    assert token
    # Until the intake worker has taken the report in, the token is all there is.
    waiting = xml(get(live_server, f"tokens/{token}.xml"))
    assert waiting.findtext("request/token") == token and waiting.find("request/service_request_id") is None
    run_worker()
    found = get(live_server, f"tokens/{token}.json").json()
    assert found[0]["token"] == token
    number = found[0]["service_request_id"]
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        report = session.scalars(select(ReportRecord).where(ReportRecord.case_id == case.id)).one()
        assert case.category == "street-light" and case.lat == 40.324561
        assert (
            case.description.startswith("富乐大街北段路灯不亮\n\n富乐大街北段") and "故障情况: 不亮" in case.description
        )
        assert report.contact_name == "Wei Zhang" and report.contact_phone == "+8613812348000"
        assert report.meta["attributes"] == {"pole": "HR-FL-0231", "fault": ["dark"]}
        # FixMyStreet's own fields are kept, not refused.
        assert report.meta["extra_attributes"]["external_id"] == "4312" and report.meta["device_id"] == "fms-web"
        photos = session.scalars(select(Attachment.status).where(Attachment.case_id == case.id)).all()
    assert photos == ["stored", "stored"]
    assert get(live_server, "tokens/no-such-token.json").status_code == 404


def test_a_multivaluelist_and_a_blackbox_service(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    answer = post(live_server, captured("post_request_multivalue.txt", api_key=api_key))
    assert answer.status_code == 200, answer.text
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord)).one()
        assert report.meta["attributes"] == {"fault": ["flicker", "daytime"], "pole": "HR-FL-0232"}
        assert "故障情况: 闪烁, 白天常亮" in report.text and report.address == "怀柔区龙山街道富乐大街北段"
    blackbox = post(live_server, [("api_key", api_key), ("service_code", "003"), ("address_string", "青春路北口")])
    assert blackbox.status_code == 200
    assert blackbox.json() == [{"service_notice": None, "account_id": None}]  # neither id nor token
    with runtime.db.transaction() as session:
        texts = session.scalars(select(Case.description).order_by(Case.id)).all()
    assert texts[-1] == "暴露垃圾"  # no description: the service's name stands in


def test_a_retried_request_is_the_same_request(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    first = post(live_server, spec_example(api_key, open311)).json()
    again = post(live_server, spec_example(api_key, open311)).json()
    assert first == again
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(Case.id)).all()) == 1
        assert len(session.scalars(select(Open311Request.id)).all()) == 1


def test_a_missing_wrong_or_revoked_api_key_is_refused(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    expected = "Invalid api_key received -- can't proceed with create_request."
    missing = post(live_server, [pair for pair in spec_example(api_key, open311) if pair[0] != "api_key"])
    assert missing.status_code == 403 and missing.json() == [{"code": 403, "description": expected}]
    wrong = post(live_server, spec_example("o311_guessed", open311), fmt="xml")
    assert wrong.status_code == 403
    root = xml(wrong)
    assert root.findtext("error/code") == "403" and root.findtext("error/description") == expected
    # Some clients send the key in the query string; that works too.
    pairs = [pair for pair in spec_example(api_key, open311) if pair[0] != "api_key"]
    in_query = requests.post(
        f"{live_server}{API}/requests.json?api_key={api_key}",
        data=urllib.parse.urlencode(pairs),
        headers={"Content-Type": FORM},
        timeout=10,
    )
    assert in_query.status_code == 200
    with runtime.db.transaction() as session:
        revoke_partner(session, "fixmystreet")
    assert post(live_server, spec_example(api_key, open311)).status_code == 403


def test_a_malformed_request_is_refused_with_every_problem(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    no_service = post(live_server, [("api_key", api_key), ("lat", "40.3"), ("long", "116.6")])
    assert no_service.status_code == 400 and "service_code" in no_service.json()[0]["description"]
    no_place = post(live_server, [("api_key", api_key), ("service_code", "003"), ("description", "垃圾")])
    assert no_place.status_code == 400 and "location" in no_place.json()[0]["description"]
    half_point = post(live_server, [("api_key", api_key), ("service_code", "003"), ("lat", "40.3")])
    assert half_point.status_code == 400 and "lat and long" in half_point.json()[0]["description"]
    several = post(
        live_server,
        [
            ("api_key", api_key),
            ("service_code", "001"),
            ("lat", "40.3"),
            ("long", "216.6"),
            ("email", "not-an-address"),
            ("attribute[WHISDORN]", "COISL999"),
            ("media_url", "ftp://example.com/a.jpg"),
        ],
    )
    assert several.status_code == 400
    problems = [error["description"] for error in several.json()]
    assert len(problems) == 5 and all(error["code"] == 400 for error in several.json())
    assert any("long" in p for p in problems) and any("email" in p for p in problems)
    assert any("attribute[WHISPAWN] is required" in p for p in problems)
    assert any("COISL999" in p for p in problems) and any("media_url" in p for p in problems)
    too_long = post(
        live_server,
        [("api_key", api_key), ("service_code", "003"), ("address_string", "x"), ("description", "长" * 4001)],
    )
    assert too_long.status_code == 400 and "4000" in too_long.json()[0]["description"]
    as_json = requests.post(
        f"{live_server}{API}/requests.json",
        json={"api_key": api_key, "service_code": "003", "address_string": "x"},
        timeout=10,
    )
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()[0]["description"]
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.id)) is None


def test_an_unknown_service_or_jurisdiction_in_a_post(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    def with_service(code: str) -> list[tuple[str, str]]:
        return [(k, code if k == "service_code" else v) for k, v in spec_example(api_key, open311)]

    assert post(live_server, with_service(""), fmt="xml").status_code == 400  # sent empty: not provided
    assert post(live_server, with_service("999")).status_code == 404
    city_gov = captured("post_request_spec_example.txt", open311, api_key=api_key)  # jurisdiction_id=city.gov
    refused = post(live_server, city_gov)
    assert refused.status_code == 404 and "city.gov" in refused.json()[0]["description"]


def test_unknown_resources_and_methods(live_server: str, open311: RecordingServer) -> None:
    # FixMyStreet's servicerequestupdates extension is not part of GeoReport v2.
    nothing = requests.get(f"{live_server}{API}/servicerequestupdates.json", timeout=10)
    assert nothing.status_code == 404 and nothing.json()[0]["code"] == 404
    root = xml(requests.get(f"{live_server}{API}/servicez.xml", timeout=10))
    assert root.findtext("error/code") == "404"
    assert requests.put(f"{live_server}{API}/requests.json", timeout=10).status_code == 405
    assert requests.post(f"{live_server}{API}/services.json", timeout=10).status_code == 405


def _close(runtime: Runtime, number: str, result: str) -> None:
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="water")
        apply(session, case, Action.ACCEPT, actor="user:water1")
        apply(session, case, Action.REPORT_RESULT, actor="user:water1", detail={"result": result})
        apply(session, case, Action.CHECK_PASS, actor="user:agent1", detail={"method": "callback"})
        apply(session, case, Action.CLOSE, actor="user:agent1")


def test_requests_are_read_back_with_their_progress_and_filters(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str, places: None
) -> None:
    base = [("api_key", api_key), ("address_string", "怀柔区青春路")]
    numbers = {}
    for label, code in (("open", "001"), ("closed", "001"), ("invalid", "002"), ("merged", "001")):
        pairs = [*base, ("service_code", code), ("description", f"{label} 请求"), ("attribute[WHISPAWN]", "HR-1")]
        post(live_server, pairs).raise_for_status()
        with runtime.db.transaction() as session:
            numbers[label] = session.scalars(select(Case.number).order_by(Case.id.desc())).first()
    # A hotline case is no partner's business.
    hotline = submit(Report(channel="sms", source_id="SM1", text="噪声扰民", contact=Contact(phone="+8613800000000")))
    process_received()
    _close(runtime, numbers["closed"], "已补装井盖并设置警示标志")
    with runtime.db.transaction() as session:
        apply(session, get_case(session, numbers["invalid"]), Action.INVALIDATE, actor="user:agent1", reason="spam")
        target = get_case(session, numbers["open"])
        apply(session, get_case(session, numbers["merged"]), Action.MERGE, actor="user:agent1", merged_into=target)
        apply(session, target, Action.DISPATCH, actor="user:agent1", department_code="water")

    listed = get(live_server, "requests.json").json()
    by_id = {item["service_request_id"]: item for item in listed}
    assert set(by_id) == set(numbers.values()) and hotline.case_number not in by_id
    assert listed[0]["service_request_id"] == numbers["merged"]  # newest first
    opened, closed = by_id[numbers["open"]], by_id[numbers["closed"]]
    assert opened["status"] == "open" and opened["agency_responsible"] == "区水务局"
    assert opened["status_notes"] == "已派遣至区水务局。" and opened["expected_datetime"] is not None
    assert opened["service_name"] == "井盖缺失或破损" and opened["description"] == "open 请求"
    assert opened["requested_datetime"].endswith("+08:00") and opened["lat"] is None
    assert closed["status"] == "closed" and closed["status_notes"] == "已办结：已补装井盖并设置警示标志"
    assert by_id[numbers["invalid"]]["status"] == "closed"
    merged = by_id[numbers["merged"]]
    assert merged["status"] == "open" and merged["status_notes"].startswith(f"与诉求{numbers['open']}为同一问题")

    def ids(**params: str) -> set[str]:
        response = get(live_server, "requests.json", **params)
        assert response.status_code == 200, response.text
        return {item["service_request_id"] for item in response.json()}

    assert ids(status="closed") == {numbers["closed"], numbers["invalid"]}
    assert ids(status="open") == {numbers["open"], numbers["merged"]}
    assert ids(status="open,closed") == set(numbers.values())
    assert ids(service_code="002") == {numbers["invalid"]}
    assert ids(service_code="001,002", status="open") == {numbers["open"], numbers["merged"]}
    both = f"{numbers['open']},{numbers['closed']},{hotline.case_number}"
    assert ids(service_request_id=both, status="closed") == {numbers["open"], numbers["closed"]}  # ids override
    now = utcnow()
    assert ids(start_date=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == set(numbers.values())
    assert ids(end_date=(now - timedelta(days=1)).isoformat()) == set()
    window = {"start_date": "2010-01-01T00:00:00Z", "end_date": "2010-06-01T00:00:00Z"}
    wide = get(live_server, "requests.json", **window)
    assert wide.status_code == 400 and "90 days" in wide.json()[0]["description"]
    assert get(live_server, "requests.json", status="pending").status_code == 400
    assert get(live_server, "requests.json", start_date="last week").status_code == 400

    root = xml(get(live_server, "requests.xml", status="closed"))
    assert root.tag == "service_requests" and len(root.findall("request")) == 2
    request = next(r for r in root.findall("request") if r.findtext("service_request_id") == numbers["closed"])
    assert request.findtext("status") == "closed" and request.findtext("agency_responsible") == "区水务局"
    assert request.findtext("zipcode") == ""  # empty, not left out


def test_one_request_is_read_by_its_id(
    runtime: Runtime, live_server: str, open311: RecordingServer, api_key: str
) -> None:
    number = post(live_server, spec_example(api_key, open311)).json()[0]["service_request_id"]
    [found] = get(live_server, f"requests/{number}.json").json()
    assert found["service_request_id"] == number and found["status"] == "open"
    assert found["status_notes"] == "已受理，正在核实。" and found["service_code"] == "001"
    assert found["address"] == "1234 5th street" and found["long"] == -122.4212043
    assert found["media_url"].endswith("/photo/2212426634_5ed477a060.jpg")
    assert found["service_notice"] == "接报后24小时内处置。" and found["agency_responsible"] is None
    root = xml(get(live_server, f"requests/{number}.xml"))
    assert root.findtext("request/service_request_id") == number and root.findtext("request/lat") == "37.76524078"
    assert get(live_server, "requests/20990101-000001.json").status_code == 404
    hotline = submit(Report(channel="web", source_id="w-1", text="路灯不亮")).case_number
    assert get(live_server, f"requests/{hotline}.json").status_code == 404
    assert get(live_server, f"requests/{number}.json", jurisdiction_id="sfgov.org").status_code == 404


def test_partners_get_their_keys_from_the_command_line(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    # The code under test, wherever this checkout is.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    assert gridline("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    added = gridline("partners", "add", "fixmystreet", env=env, cwd=tmp_path)
    assert added.returncode == 0 and added.stdout.startswith("o311_")
    again = gridline("partners", "add", "fixmystreet", env=env, cwd=tmp_path)
    assert again.returncode != 0 and "exists already" in again.stderr
    rotated = gridline("partners", "rotate", "fixmystreet", env=env, cwd=tmp_path)
    assert rotated.returncode == 0 and rotated.stdout.startswith("o311_") and rotated.stdout != added.stdout
    assert gridline("partners", "revoke", "fixmystreet", env=env, cwd=tmp_path).returncode == 0
    assert gridline("partners", "revoke", "nobody", env=env, cwd=tmp_path).returncode != 0


def _many(found: Any) -> list[Any]:
    """xmltodict gives one element as a dict and several as a list."""
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_a_published_client_library_reads_everything_unchanged(
    live_server: str, open311: RecordingServer, api_key: str, output_format: str
) -> None:
    """georeport (a GeoReport v2 client from PyPI) used as its users use it, with nothing adapted to us."""
    from georeport import GeoReport

    filed = post(live_server, spec_example(api_key, open311)).json()[0]["service_request_id"]
    client = GeoReport(f"{live_server}{API}", jurisdiction="huairou.gov.cn", output_format=output_format)

    services = client.get_service_list()
    assert [service["service_code"] for service in services] == ["001", "002", "003"]
    assert services[0]["service_name"] == "井盖缺失或破损" and services[2]["type"] == "blackbox"

    definition = client.get_service_definition("001")
    attributes = definition["attributes"] if output_format == "json" else _many(definition["attributes"]["attribute"])
    assert [attribute["code"] for attribute in attributes] == ["WHISPAWN", "WHISDORN", "SAFETY"]

    found = client.get_service_requests(service_code="001", status="open")
    assert [request["service_request_id"] for request in _many(found)] == [filed]
    if output_format == "json":  # georeport cannot read an empty XML list (<service_requests/>) from anyone
        assert client.get_service_requests(status="closed") == []

    request = client.get_service_request(filed)
    assert request["service_request_id"] == filed and request["status"] == "open"
    assert request["service_code"] == "001" and request["address"] == "1234 5th street"
