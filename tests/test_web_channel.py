"""The website channel over real HTTP: the public form, the JSON API, tracking, and the worker after them."""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from intake.cases import apply, get_case, record
from intake.models import Attachment, Blob, Case, ReportRecord
from intake.runtime import Runtime
from intake.states import Action, CaseStatus

NUMBER = re.compile(r"\d{8}-\d{6}")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PHONE = "13812348000"
E164 = "+8613812348000"
#: Inside Huairou: the seat of Quanhe Subdistrict.
HUAIROU = ("40.322", "116.640")
TIMEOUT = 10


def png_bytes(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small but valid PNG, built by hand (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def field_error(page: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)).strip() if match else None


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*\bvalue="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def case_number_on(page: str) -> str:
    match = re.search(r'id="case-number">([^<]+)<', page)
    assert match, "no case number on the page"
    return match.group(1)


def history_texts(page: str) -> list[str]:
    history = re.search(r'<ol class="timeline" id="history">(.*?)</ol>', page, re.S)
    assert history is not None, "no history on the page"
    return re.findall(r"<span>([^<]+)</span>", history.group(1))


@dataclass
class FormPage:
    html: str
    csrf_token: str
    submission_id: str


class Citizen:
    """A browser-like HTTP client: keeps cookies and posts the form with the token it was given."""

    def __init__(self, base_url: str, *, lang: str | None = None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.lang = lang

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.base_url + path, timeout=TIMEOUT, **kwargs)

    def open_form(self) -> FormPage:
        response = self.get("/report" + (f"?lang={self.lang}" if self.lang else ""))
        assert response.status_code == 200
        token = input_value(response.text, "csrf_token")
        submission_id = input_value(response.text, "submission_id")
        assert token and submission_id
        return FormPage(response.text, token, submission_id)

    def send(
        self, form: FormPage, fields: dict[str, str], photos: list[tuple[str, bytes, str]] | None = None
    ) -> requests.Response:
        data = {"csrf_token": form.csrf_token, "submission_id": form.submission_id, **fields}
        files = [("photos", photo) for photo in photos or []]
        # requests sends multipart only with files; the browser always does (enctype), so force it.
        return self.post("/report", data=data, files=files or {"photos": ("", b"", "application/octet-stream")})

    def report(self, photos: list[tuple[str, bytes, str]] | None = None, **fields: str) -> requests.Response:
        return self.send(self.open_form(), valid_fields(**fields), photos)

    def track(self, number: str, last4: str) -> requests.Response:
        page = self.get(f"/track?number={number}")
        token = input_value(page.text, "csrf_token")
        return self.post("/track", data={"csrf_token": token, "number": number, "phone_last4": last4})


def valid_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "description": "青春路12号门前路灯不亮已有三天，夜里行人看不清路。",
        "category": "street-light",
        "address": "怀柔区青春路12号",
        "lat": "",
        "lon": "",
        "phone": PHONE,
    }
    fields.update(overrides)
    return fields


def submit_case(base_url: str, **fields: str) -> str:
    response = Citizen(base_url).report(**fields)
    assert response.status_code == 200, response.text
    return case_number_on(response.text)


# --- the form -----------------------------------------------------------------------------------


def test_form_page_is_chinese_by_default_and_self_contained(live_server: str) -> None:
    response = requests.get(live_server + "/report", timeout=TIMEOUT)
    assert response.status_code == 200
    page = response.text
    assert '<html lang="zh-CN">' in page
    assert "怀柔区接诉即办" in page
    assert "反映问题" in page
    # Categories grouped by class, names in the page language.
    assert '<optgroup label="部件 · 公用设施">' in page
    assert '<option value="street-light">路灯</option>' in page
    assert '<option value="noise">噪声扰民</option>' in page
    assert UUID.match(input_value(page, "submission_id") or "")
    assert input_value(page, "csrf_token")
    assert 'href="/report?lang=en"' in page
    # Nothing comes from elsewhere: no CDN, no map tiles, no web fonts.
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="(/static/web/[^"]+)"', page):
        static = requests.get(live_server + asset, timeout=TIMEOUT)
        assert static.status_code == 200, asset
    assert {"/static/web/web.css", "/static/web/web.js"} <= set(re.findall(r'"(/static/web/[^"]+)"', page))
    # A fresh submission id on each rendering.
    again = requests.get(live_server + "/report", timeout=TIMEOUT).text
    assert input_value(again, "submission_id") != input_value(page, "submission_id")


def test_language_switch_is_remembered_in_a_cookie(live_server: str) -> None:
    citizen = Citizen(live_server)
    english = citizen.get("/report?lang=en")
    assert english.cookies.get("lang") == "en"
    assert '<html lang="en">' in english.text
    assert '<option value="street-light">Street light</option>' in english.text
    assert "Huairou District 12345" in english.text
    assert 'href="/report?lang=zh"' in english.text
    # The cookie keeps English without the query parameter, on every page.
    assert '<html lang="en">' in citizen.get("/report").text
    assert "Track a case" in citizen.get("/track").text
    assert '<html lang="zh-CN">' in citizen.get("/track?lang=zh").text
    assert '<html lang="zh-CN">' in citizen.get("/report").text
    # Without a cookie, Accept-Language decides.
    browser_en = requests.get(live_server + "/report", headers={"Accept-Language": "en-GB,en;q=0.9"}, timeout=TIMEOUT)
    assert '<html lang="en">' in browser_en.text


def test_form_report_with_photos_is_stored_before_the_answer(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server)
    form = citizen.open_form()
    photos = [("lamp.png", png_bytes(), "image/png"), ("pole.png", png_bytes(3, 1, (0, 0, 255)), "image/png")]
    response = citizen.send(form, valid_fields(lat=HUAIROU[0], lon=HUAIROU[1]), photos)
    assert response.status_code == 200
    assert response.history and response.history[0].status_code == 303  # post/redirect/get
    assert response.url.endswith("/report/done")
    number = case_number_on(response.text)
    assert NUMBER.fullmatch(number)
    assert "提交成功" in response.text
    assert f'href="/track?number={number}"' in response.text
    assert PHONE not in response.text
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert case.status is CaseStatus.RECEIVED
        assert case.channel == "web"
        assert case.category == "street-light"
        assert case.address == "怀柔区青春路12号"
        assert (case.lat, case.lon) == (40.322, 116.640)
        assert case.reporter_phone == E164
        report = session.scalar(select(ReportRecord).where(ReportRecord.case_id == case.id))
        assert report is not None
        assert report.source_id == form.submission_id
        assert report.text.startswith("青春路12号门前路灯不亮")
        assert report.contact_phone == E164
        assert report.meta == {"lang": "zh", "via": "form"}
        raw = json.loads(report.raw)
        assert raw["photos"] == ["lamp.png", "pole.png"]
        attachments = session.scalars(select(Attachment).where(Attachment.report_id == report.id)).all()
        assert [(a.filename, a.content_type, a.status, a.size) for a in attachments] == [
            ("lamp.png", "image/png", "stored", len(photos[0][1])),
            ("pole.png", "image/png", "stored", len(photos[1][1])),
        ]
        blob = session.get(Blob, attachments[0].sha256)
        assert blob is not None and blob.data == photos[0][1]
    # The confirmation survives a reload (it is a GET now) without a second report.
    assert case_number_on(citizen.get("/report/done").text) == number
    assert count(runtime, ReportRecord) == 1


def test_double_submit_makes_one_report(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server)
    form = citizen.open_form()
    first = citizen.send(form, valid_fields())
    second = citizen.send(form, valid_fields())
    assert case_number_on(first.text) == case_number_on(second.text)
    assert 'id="duplicate-note"' not in first.text
    assert "未重复登记" in second.text
    assert count(runtime, ReportRecord) == 1
    assert count(runtime, Case) == 1
    # A new rendering of the form is a new report.
    third = citizen.report()
    assert case_number_on(third.text) != case_number_on(first.text)
    assert count(runtime, Case) == 2


def test_english_form_stores_the_page_language(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server, lang="en")
    response = citizen.report(category="noise", description="Loud construction at night on Fuqian Street.")
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "Report received" in response.text
    number = case_number_on(response.text)
    with runtime.db.transaction() as session:
        report = session.scalar(select(ReportRecord).join(Case).where(Case.number == number))
        assert report is not None
        assert report.meta["lang"] == "en"


def test_form_without_category_or_point_is_accepted(runtime: Runtime, live_server: str) -> None:
    number = submit_case(live_server, category="", phone="010-6961 2345")
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert case.category is None
        assert case.lat is None and case.lon is None
        assert case.reporter_phone == "+861069612345"


TOO_LONG = "长" * 2001

FORM_ERRORS = [
    pytest.param({"description": "  "}, "description", "此项必填", id="description-missing"),
    pytest.param({"description": TOO_LONG}, "description", "不能超过2000字（现为2001字）", id="description-long"),
    pytest.param({"address": ""}, "address", "此项必填", id="address-missing"),
    pytest.param({"address": "路" * 201}, "address", "不能超过200字", id="address-long"),
    pytest.param({"category": "spaceship"}, "category", "请从列表中选择问题类型", id="category-unknown"),
    pytest.param({"lat": "40.3"}, "lon", "纬度和经度需同时填写", id="lat-without-lon"),
    pytest.param({"lon": "116.6"}, "lat", "纬度和经度需同时填写", id="lon-without-lat"),
    pytest.param({"lat": "91", "lon": "116.6"}, "lat", "纬度应在 -90 到 90 之间", id="lat-range"),
    pytest.param({"lat": "40.3", "lon": "-181"}, "lon", "经度应在 -180 到 180 之间", id="lon-range"),
    pytest.param({"lat": "north", "lon": "116.6"}, "lat", "请填写数字", id="lat-not-number"),
    pytest.param({"lat": "nan", "lon": "116.6"}, "lat", "请填写数字", id="lat-nan"),
    pytest.param({"phone": ""}, "phone", "此项必填", id="phone-missing"),
    pytest.param({"phone": "call me"}, "phone", "请填写有效的手机号码", id="phone-words"),
    pytest.param({"phone": "12345"}, "phone", "请填写有效的手机号码", id="phone-short"),
    pytest.param({"phone": "+86 123"}, "phone", "请填写有效的手机号码", id="phone-bad-cn"),
    pytest.param({"phone": "1381234800"}, "phone", "请填写有效的手机号码", id="phone-ten-digits"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), FORM_ERRORS)
def test_form_validation_error_is_shown_beside_its_field(
    runtime: Runtime, live_server: str, overrides: dict[str, str], field: str, message: str
) -> None:
    citizen = Citizen(live_server)
    form = citizen.open_form()
    fields = valid_fields(**overrides)
    response = citizen.send(form, fields)
    assert response.status_code == 400
    error = field_error(response.text, field)
    assert error is not None and message in error, response.text
    assert 'role="alert"' in response.text
    assert 'aria-invalid="true"' in response.text
    # What was typed is kept, and so is the submission id (a fixed resubmit is still one report).
    assert input_value(response.text, "submission_id") == form.submission_id
    if field != "address":
        assert input_value(response.text, "address") == fields["address"]
    assert count(runtime, ReportRecord) == 0


def test_form_errors_are_listed_per_field_in_english(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server, lang="en")
    response = citizen.send(citizen.open_form(), valid_fields(description="", phone="hello", lat="1"))
    assert response.status_code == 400
    assert field_error(response.text, "description") == "This field is required"
    assert field_error(response.text, "phone") == "Enter a valid mobile number, or a landline with its area code"
    assert field_error(response.text, "lon") == "Give both latitude and longitude"
    assert field_error(response.text, "address") is None
    assert "Please correct the marked fields" in response.text
    assert count(runtime, ReportRecord) == 0


def test_photos_must_be_images(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server)
    photos = [("ok.png", png_bytes(), "image/png"), ("notes.png", b"just some text, not a picture", "image/png")]
    response = citizen.send(citizen.open_form(), valid_fields(), photos)
    assert response.status_code == 400
    assert field_error(response.text, "photos") == "“notes.png”不是支持的图片（JPEG、PNG、GIF、WebP、HEIC）"
    assert count(runtime, ReportRecord) == 0


def test_photo_larger_than_the_limit_is_refused(
    runtime: Runtime, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.config.worker, "max_attachment_bytes", 2048)
    citizen = Citizen(live_server)
    form = citizen.open_form()
    assert "每张不超过2 KB" in form.html
    big = png_bytes() + b"\x00" * 2048
    response = citizen.send(form, valid_fields(), [("big.png", big, "image/png")])
    assert response.status_code == 400
    assert field_error(response.text, "photos") == "“big.png”超过2 KB"
    assert count(runtime, ReportRecord) == 0
    # Exactly at the limit is fine.
    exact = png_bytes() + b"\x00" * (2048 - len(png_bytes()))
    assert citizen.send(citizen.open_form(), valid_fields(), [("exact.png", exact, "image/png")]).status_code == 200


def test_too_many_photos_are_refused(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server)
    photos = [(f"p{i}.png", png_bytes(), "image/png") for i in range(7)]
    response = citizen.send(citizen.open_form(), valid_fields(), photos)
    assert response.status_code == 400
    assert field_error(response.text, "photos") == "最多上传6张照片"
    assert count(runtime, ReportRecord) == 0


def test_form_without_csrf_token_is_refused_and_shown_again(runtime: Runtime, live_server: str) -> None:
    citizen = Citizen(live_server)
    form = citizen.open_form()
    stale = FormPage(form.html, "not-a-token", form.submission_id)
    response = citizen.send(stale, valid_fields())
    assert response.status_code == 400
    assert "页面已过期" in response.text
    assert input_value(response.text, "address") == "怀柔区青春路12号"
    # A token without the session cookie it belongs to is no better.
    cookieless = requests.post(
        live_server + "/report",
        data={"csrf_token": form.csrf_token, "submission_id": form.submission_id, **valid_fields()},
        timeout=TIMEOUT,
    )
    assert cookieless.status_code == 400
    assert count(runtime, ReportRecord) == 0
    # The re-rendered form carries a fresh token that works.
    retry = FormPage(response.text, input_value(response.text, "csrf_token") or "", form.submission_id)
    assert citizen.send(retry, valid_fields()).status_code == 200
    assert count(runtime, ReportRecord) == 1


def test_form_posts_are_rate_limited_per_ip(runtime: Runtime, app: Flask, live_server: str) -> None:
    app.config["WEB_REPORT_RATE_LIMIT"] = "2/hour"
    citizen = Citizen(live_server)
    assert citizen.report().status_code == 200
    assert citizen.send(citizen.open_form(), valid_fields(phone="x")).status_code == 400
    limited = citizen.report()
    assert limited.status_code == 429
    assert "操作过于频繁" in limited.text
    assert '<html lang="zh-CN">' in limited.text
    assert count(runtime, ReportRecord) == 1
    # Reading the form is not limited.
    assert citizen.get("/report").status_code == 200


def test_oversized_upload_gets_a_page_not_a_crash(runtime: Runtime, app: Flask, live_server: str) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    citizen = Citizen(live_server)
    photo = png_bytes() + b"\x00" * (100 * 1024)
    response = citizen.send(citizen.open_form(), valid_fields(), [("huge.png", photo, "image/png")])
    assert response.status_code == 413
    assert "上传内容过大" in response.text
    assert count(runtime, ReportRecord) == 0


def test_done_page_without_a_report_goes_back_to_the_form(live_server: str) -> None:
    response = requests.get(live_server + "/report/done", timeout=TIMEOUT)
    assert response.url.endswith("/report")
    assert "反映问题" in response.text


# --- the JSON API -------------------------------------------------------------------------------


def api_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "龙山街道富乐大街垃圾桶满溢，异味很大。",
        "category": "garbage",
        "address": "怀柔区富乐大街8号",
        "lat": 40.308,
        "lon": 116.625,
        "phone": "139 1234 5678",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def post_api(base_url: str, token: str | None, body: Any = None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    return requests.post(base_url + "/api/v1/reports", headers=headers, timeout=TIMEOUT, **kwargs)


def test_api_report_is_created_and_replays_idempotently(
    runtime: Runtime, live_server: str, make_user: Callable[..., str]
) -> None:
    token = make_user("wechat-gateway")
    photo = png_bytes()
    body = api_body(
        photos=[{"filename": "bin.png", "content_type": "image/png", "data_base64": base64.b64encode(photo).decode()}],
        lang="en",
    )
    first = post_api(live_server, token, body, headers={"Idempotency-Key": "msg-0001"})
    assert first.status_code == 201, first.text
    created = first.json()
    assert set(created) == {"case_number", "report_id", "duplicate"}
    assert NUMBER.fullmatch(created["case_number"])
    assert created["duplicate"] is False
    replay = post_api(live_server, token, body, headers={"Idempotency-Key": "msg-0001"})
    assert replay.status_code == 200
    assert replay.json() == {**created, "duplicate": True}
    with runtime.db.transaction() as session:
        report = session.get(ReportRecord, created["report_id"])
        assert report is not None
        assert report.channel == "web"
        assert report.source_id.startswith("api:") and report.source_id.endswith(":msg-0001")
        assert report.contact_phone == "+8613912345678"
        assert report.meta == {"lang": "en", "via": "api"}
        assert (report.lat, report.lon, report.category) == (40.308, 116.625, "garbage")
        # Photo bytes are kept once, as the attachment; the raw copy names them.
        assert json.loads(report.raw)["photos"] == ["bin.png"]
        attachment = session.scalar(select(Attachment).where(Attachment.report_id == report.id))
        assert attachment is not None and attachment.status == "stored" and attachment.content_type == "image/png"
        blob = session.get(Blob, attachment.sha256)
        assert blob is not None and blob.data == photo
    assert count(runtime, ReportRecord) == 1
    # Without an Idempotency-Key every request is a new report.
    one = post_api(live_server, token, api_body()).json()
    two = post_api(live_server, token, api_body()).json()
    assert one["case_number"] != two["case_number"]
    assert count(runtime, ReportRecord) == 3


def test_api_idempotency_keys_are_per_client(runtime: Runtime, live_server: str, make_user: Callable[..., str]) -> None:
    first = post_api(live_server, make_user("partner-a"), api_body(), headers={"Idempotency-Key": "1"})
    second = post_api(live_server, make_user("partner-b"), api_body(), headers={"Idempotency-Key": "1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["case_number"] != second.json()["case_number"]


def test_api_needs_a_valid_bearer_token(runtime: Runtime, live_server: str) -> None:
    missing = post_api(live_server, None, api_body())
    assert missing.status_code == 401
    assert "bearer" in missing.json()["error"]
    wrong = post_api(live_server, "gl_not-a-real-token", api_body())
    assert wrong.status_code == 401
    assert count(runtime, ReportRecord) == 0


API_ERRORS = [
    pytest.param({"data": b"{not json"}, 400, "body", "not valid JSON", id="not-json"),
    pytest.param({"data": b"[1, 2]"}, 400, "body", "must be a JSON object", id="not-an-object"),
    pytest.param(
        {"data": "{}".encode("utf-16"), "content_type": "application/json"}, 400, "body", "not UTF-8", id="not-utf8"
    ),
    pytest.param(
        {"body": api_body(), "content_type": "application/json; charset=latin-1"},
        415,
        None,
        "charset latin-1",
        id="wrong-charset",
    ),
    pytest.param({"body": api_body(), "content_type": "text/plain"}, 415, None, "application/json", id="not-json-type"),
    pytest.param({"body": api_body(description=42)}, 400, "description", "must be a string", id="description-type"),
    pytest.param({"body": api_body(description=...)}, 400, "description", "required", id="description-missing"),
    pytest.param({"body": api_body(description="x" * 2001)}, 400, "description", "At most 2000", id="description-long"),
    pytest.param({"body": api_body(address="x" * 201)}, 400, "address", "At most 200", id="address-long"),
    pytest.param({"body": api_body(lat="40.3")}, 400, "lat", "must be a number", id="lat-string"),
    pytest.param({"body": api_body(lon=True)}, 400, "lon", "must be a number", id="lon-bool"),
    pytest.param({"body": api_body(lon=...)}, 400, "lon", "both latitude and longitude", id="lat-without-lon"),
    pytest.param({"body": api_body(lat=95.5)}, 400, "lat", "between -90 and 90", id="lat-range"),
    pytest.param({"body": api_body(lon=200)}, 400, "lon", "between -180 and 180", id="lon-range"),
    pytest.param({"body": api_body(category="ufo")}, 400, "category", "Choose a category", id="category-unknown"),
    pytest.param({"body": api_body(phone=13812348000)}, 400, "phone", "must be a string", id="phone-type"),
    pytest.param({"body": api_body(phone="n/a")}, 400, "phone", "valid mobile number", id="phone-invalid"),
    pytest.param({"body": api_body(latitude=40.3)}, 400, "latitude", "unknown field", id="unknown-field"),
    pytest.param({"body": api_body(lang="fr")}, 400, "lang", "zh or en", id="lang"),
    pytest.param({"body": api_body(photos="x.png")}, 400, "photos", "list of objects", id="photos-shape"),
    pytest.param(
        {"body": api_body(photos=[{"filename": "a.png", "data_base64": "%%%"}])},
        400,
        "photos",
        "not valid base64",
        id="photo-base64",
    ),
    pytest.param(
        {"body": api_body(photos=[{"filename": "a.txt", "data_base64": base64.b64encode(b"hello").decode()}])},
        400,
        "photos",
        "not a supported image",
        id="photo-not-image",
    ),
    pytest.param(
        {"body": api_body(), "headers": {"Idempotency-Key": "k" * 101}},
        400,
        "Idempotency-Key",
        "visible ASCII",
        id="idempotency-key-long",
    ),
]


@pytest.mark.parametrize(("request_", "status", "field", "message"), API_ERRORS)
def test_api_refuses_bad_input_naming_the_field(
    runtime: Runtime,
    live_server: str,
    make_user: Callable[..., str],
    request_: dict[str, Any],
    status: int,
    field: str | None,
    message: str,
) -> None:
    token = make_user("partner")
    headers = {"Accept-Language": "en", **request_.get("headers", {})}
    if "content_type" in request_:
        headers["Content-Type"] = request_["content_type"]
    if "data" in request_:
        headers.setdefault("Content-Type", "application/json")
        response = post_api(live_server, token, data=request_["data"], headers=headers)
    else:
        response = post_api(live_server, token, request_["body"], headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()
    assert error["status"] == status
    assert message in error["error"], error
    if field is not None:
        assert error["field"] == field
        assert error["error"].startswith(f"{field}: ")
    assert count(runtime, ReportRecord) == 0


def test_api_errors_follow_the_request_language(live_server: str, make_user: Callable[..., str]) -> None:
    token = make_user("partner")
    response = post_api(live_server, token, api_body(lat=95.5), headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400
    assert response.json()["error"] == "lat: 纬度应在 -90 到 90 之间"
    assert response.json()["errors"] == {"lat": "纬度应在 -90 到 90 之间"}


def test_api_body_too_large_is_a_json_413(
    runtime: Runtime, app: Flask, live_server: str, make_user: Callable[..., str]
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024
    token = make_user("partner")
    response = post_api(live_server, token, api_body(description="x" * (40 * 1024)))
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert "larger than" in response.json()["error"]
    assert count(runtime, ReportRecord) == 0


def test_api_strips_control_characters(runtime: Runtime, live_server: str, make_user: Callable[..., str]) -> None:
    # PostgreSQL cannot store NUL; a stray one must not turn into a 500.
    response = post_api(live_server, make_user("partner"), api_body(description="井盖\x00缺失\x07", address="路\x00口"))
    assert response.status_code == 201, response.text
    with runtime.db.transaction() as session:
        report = session.get(ReportRecord, response.json()["report_id"])
        assert report is not None
        assert (report.text, report.address) == ("井盖缺失", "路口")


# --- tracking -----------------------------------------------------------------------------------


def test_tracking_shows_status_and_public_history(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None]
) -> None:
    number = submit_case(live_server)
    citizen = Citizen(live_server)
    prefilled = citizen.get(f"/track?number={number}")
    assert input_value(prefilled.text, "number") == number
    found = citizen.track(number, PHONE[-4:])
    assert found.status_code == 200
    assert re.search(r'id="case-status">已接收<', found.text)
    assert "诉求已接收" in found.text
    assert "路灯" in found.text  # the category, in the page language
    assert found.headers["Cache-Control"] == "no-store"
    run_worker()
    found = citizen.track(number, PHONE[-4:])
    assert re.search(r'id="case-status">核实中<', found.text)
    assert history_texts(found.text) == ["进入坐席受理队列", "诉求已接收"]  # newest first
    english = Citizen(live_server, lang="en")
    english.get("/track?lang=en")
    found_en = english.track(number, PHONE[-4:])
    assert re.search(r'id="case-status">Being verified<', found_en.text)
    assert "Queued for verification" in found_en.text
    for page in (found.text, found_en.text):
        assert PHONE not in page and PHONE[:7] not in page
        assert "user:" not in page and "channel:web" not in page


def test_wrong_last_four_looks_exactly_like_an_unknown_case(runtime: Runtime, live_server: str) -> None:
    number = submit_case(live_server)
    citizen = Citizen(live_server)
    wrong = citizen.track(number, "1234")
    unknown = citizen.track("20000101-000001", PHONE[-4:])
    assert wrong.status_code == unknown.status_code == 404

    def alert(page: str) -> str:
        match = re.search(r'id="not-found">([^<]+)<', page)
        assert match
        return match.group(1)

    assert alert(wrong.text) == alert(unknown.text) == "未找到匹配的诉求，请核对编号和电话后四位。"
    assert 'id="track-result"' not in wrong.text
    malformed = citizen.track("12345", "12")
    assert malformed.status_code == 400
    assert field_error(malformed.text, "number") is not None
    assert field_error(malformed.text, "phone_last4") == "请输入4位数字"


def test_tracking_never_shows_internal_actors_or_other_cases(runtime: Runtime, live_server: str) -> None:
    dispatched = submit_case(live_server, phone="13711112222")
    merged = submit_case(live_server, phone="13733334444")
    with runtime.db.transaction() as session:
        first, second = get_case(session, dispatched), get_case(session, merged)
        apply(session, first, Action.QUEUE, actor="system")
        apply(session, second, Action.QUEUE, actor="system")
        apply(session, first, Action.DISPATCH, actor="user:agent7", department_code="urban-management")
        apply(session, second, Action.MERGE, actor="user:agent7", merged_into=first)
        record(session, first, "phone_viewed", actor="user:agent7", detail={"via": "api"})
    citizen = Citizen(live_server)
    page = citizen.track(dispatched, "2222").text
    assert re.search(r'id="case-status">已派遣<', page)
    assert history_texts(page) == ["已派遣至承办单位", "进入坐席受理队列", "诉求已接收"]
    merged_page = citizen.track(merged, "4444").text
    # The merged reporter follows the case that took theirs: its status and steps, not its reports.
    assert re.search(r'id="case-status">已派遣<', merged_page)
    assert f"与同一问题的诉求 {dispatched} 合并办理" in merged_page
    assert history_texts(merged_page) == ["与相同问题合并办理", "已派遣至承办单位", "进入坐席受理队列", "诉求已接收"]
    assert citizen.track(dispatched, "4444").status_code == 404  # but not the other case itself
    for text in (page, merged_page):
        assert "agent7" not in text and "urban-management" not in text
        assert "1371111" not in text and "1373333" not in text
    # Each reporter's own last four only.
    assert citizen.track(dispatched, "4444").status_code == 404


def test_failed_lookups_are_rate_limited_but_successes_are_free(runtime: Runtime, app: Flask, live_server: str) -> None:
    app.config["WEB_TRACK_RATE_LIMIT"] = "3/hour"
    number = submit_case(live_server)
    citizen = Citizen(live_server)
    for _ in range(5):
        assert citizen.track(number, PHONE[-4:]).status_code == 200
    for guess in ("0001", "0002", "0003"):
        assert citizen.track(number, guess).status_code == 404
    limited = citizen.track(number, PHONE[-4:])
    assert limited.status_code == 429
    assert "操作过于频繁" in limited.text


def test_tracking_json(runtime: Runtime, live_server: str, run_worker: Callable[[], None]) -> None:
    number = submit_case(live_server)
    run_worker()
    url = live_server + "/api/v1/track"
    found = requests.get(url, params={"number": number, "phone_last4": PHONE[-4:], "lang": "en"}, timeout=TIMEOUT)
    assert found.status_code == 200
    body = found.json()
    assert body["number"] == number
    assert (body["status"], body["status_text"]) == ("verifying", "Being verified")
    assert [(item["kind"], item["text"]) for item in body["history"]] == [
        ("received", "Report received"),
        ("queue", "Queued for verification"),
    ]
    assert PHONE[-4:] not in found.text.replace(number, "")
    missing = requests.get(url, params={"number": number, "phone_last4": "9999"}, timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json()["error"] == "未找到匹配的诉求，请核对编号和电话后四位。"
    bad = requests.get(url, params={"number": "x", "phone_last4": "9999"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert bad.json()["field"] == "number"


# --- the worker after a web report ----------------------------------------------------------------


def test_worker_queues_the_case_and_finds_its_grid_cell(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    places: None,
    make_user: Callable[..., str],
) -> None:
    inside = submit_case(live_server, lat=HUAIROU[0], lon=HUAIROU[1])
    outside = submit_case(live_server, lat="39.9087", lon="116.3975", phone="13900001111")  # Tiananmen
    no_point = submit_case(live_server, phone="13900002222")
    run_worker()
    with runtime.db.transaction() as session:
        cases = {number: get_case(session, number) for number in (inside, outside, no_point)}
        assert {case.status for case in cases.values()} == {CaseStatus.VERIFYING}
        assert cases[inside].grid_code is not None and cases[inside].grid_code.startswith("110116")
        assert len(cases[inside].grid_code) == 15
        assert cases[outside].grid_code is None
        assert cases[no_point].grid_code is None
    token = make_user("agent1")
    listed = requests.get(
        live_server + "/api/v1/cases",
        headers={"Authorization": f"Bearer {token}"},
        params={"channel": "web"},
        timeout=10,
    )
    assert listed.status_code == 200
    by_number = {case["number"]: case for case in listed.json()["cases"]}
    assert by_number[inside]["reporter_phone"] == "138****8000"
    assert by_number[inside]["status"] == "verifying"
    assert by_number[inside]["grid_code"] == cases[inside].grid_code
    assert PHONE not in listed.text and E164 not in listed.text
