"""The ``gridline`` command."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time

import click
from rq import Queue, Worker
from rq.worker_pool import WorkerPool

from intake import migrate, wiring
from intake.config import Config, load_config
from intake.errors import AuthError, ConfigError
from intake.queue import ALL_QUEUES
from intake.runtime import Runtime, init_runtime, redis_persistence_warning

log = logging.getLogger("gridline")

#: Seconds a crashed child of ``gridline run`` waits before it is started again.
RESTART_DELAY_SECONDS = 2.0


def _runtime() -> Runtime:
    try:
        return init_runtime(load_config())
    except ConfigError as err:
        raise click.ClickException(str(err)) from err


def _warn_if_redis_volatile(runtime: Runtime) -> None:
    """Say at start-up when Redis would lose acknowledged camera alarms on a restart."""
    warning = redis_persistence_warning(runtime.redis)
    if warning:
        log.warning("%s", warning)


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING, ...")
def main(log_level: str) -> None:
    """Gridline: hotline and multi-channel intake for grid-based city governance."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(_runtime())
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Users of the console and the API."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "department", "leader", "admin"]))
@click.option("--password", help="At least 8 characters; a random one is printed if omitted.")
@click.option("--department", help="Department code, for --role department.")
@click.option("--display-name", default="")
def user_add(name: str, role: str, password: str | None, department: str | None, display_name: str) -> None:
    """Add a user."""
    from intake.auth import create_user

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            create_user(session, name, role, password, display_name=display_name, department_code=department)
    except AuthError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"added {role} {name}" + (f" with password {password}" if generated else ""))


@main.group()
def token() -> None:
    """Bearer tokens for the JSON API."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
def token_create(name: str, label: str) -> None:
    """Print a new bearer token for user NAME (shown once; only its hash is kept)."""
    from intake.auth import create_token

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            click.echo(create_token(session, name, label))
    except AuthError as err:
        raise click.ClickException(str(err)) from err


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--password", envvar="GRIDLINE_DEMO__PASSWORD", help="Password of the demo users.")
@click.option("--addresses", type=int, help="Demo gazetteer entries (default: the full ~116,000).")
def demo_load(password: str | None, addresses: int | None) -> None:
    """Load the Huairou demo district, departments, users, address gazetteer and sample reports."""
    _load_demo(_runtime(), password, addresses)


def _load_demo(runtime: Runtime, password: str | None, addresses: int | None = None) -> None:
    """Places, users, then each channel's sample cases through its own path (``channels/<source>/demo.py``)."""
    from sqlalchemy import func, select

    from channels.common import DemoContext
    from channels.registry import CHANNELS
    from intake.app import create_app
    from intake.demo import load_users
    from intake.models import Case
    from routing.demo import load as load_places
    from routing.demo_addresses import FULL_COUNT

    wiring.init_worker()
    with runtime.db.transaction() as session:
        counts = load_places(session, addresses=FULL_COUNT if addresses is None else addresses)
        password = load_users(session, password or runtime.config.demo.password or None)
    context = DemoContext(runtime=runtime, client=create_app(runtime=runtime).test_client())
    notes: list[tuple[str, list[str]]] = []
    for channel in CHANNELS:
        try:
            loader = channel.demo_loader()
            if loader is not None:
                notes.append((channel.name, loader(context)))
        except Exception:  # one channel's broken demo must not cost the others theirs
            log.exception("demo data of channel %s not loaded", channel.name)
            notes.append((channel.name, ["demo data not loaded (see the log)"]))
    with runtime.db.transaction() as session:
        cases = session.scalar(select(func.count()).select_from(Case))
    click.echo(
        f"demo: {counts['towns']} towns/subdistricts, {counts['cells']} grid cells, "
        f"{counts['addresses']} addresses, {counts['departments']} units, {cases} sample cases "
        "(camera alarms become cases once a worker runs)"
    )
    click.echo(f"demo users agent1, agent2, supervisor, urban, quanhe, leader, admin; password: {password}")
    click.echo(f"console: {runtime.config.public_url}/console (agent1); channels to try:")
    for name, lines in notes:
        for line in lines:
            click.echo(f"  {name:8} {line}")


# --- Places: grid cells and the address gazetteer (issue 4) ------------------------------------------


@main.group()
def grid() -> None:
    """Grid cells (网格)."""


@grid.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def grid_import(file: str) -> None:
    """Create or update grid cells from a GeoJSON FeatureCollection (nothing is written if any is bad)."""
    from routing.errors import RoutingError
    from routing.importing import import_grid

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            done = import_grid(session, file)
    except RoutingError as err:
        raise click.ClickException(str(err)) from err
    click.echo(
        f"grid: {done.created} cells created, {done.updated} updated, {done.unchanged} unchanged; "
        f"{done.areas_created} areas created"
    )


@main.group()
def addresses() -> None:
    """The address gazetteer (门牌地址库)."""


@addresses.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def addresses_import(file: str) -> None:
    """Create or update addresses from a CSV file (text, lat, lon[, road, number, building])."""
    from routing.errors import RoutingError
    from routing.importing import import_addresses

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            done = import_addresses(session, file)
    except RoutingError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"addresses: {done.created} created, {done.updated} updated, {done.unchanged} unchanged")
    if done.outside:
        lines = ", ".join(map(str, done.outside[:10])) + (" ..." if len(done.outside) > 10 else "")
        click.echo(f"skipped {len(done.outside)} outside every grid cell: line {lines}", err=True)


@main.group()
def units() -> None:
    """Units (承办单位): district departments and town sub-centers with their contacts."""


@units.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def units_import(file: str) -> None:
    """Create or update units from a CSV file (code, name_zh[, name_en, kind, area_code, duty_phone, ...])."""
    from routing.errors import RoutingError
    from routing.units import import_units

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            done = import_units(session, file)
    except RoutingError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"units: {done.created} created, {done.updated} updated, {done.unchanged} unchanged")


# --- end of places ------------------------------------------------------------------------------------


# --- Asterisk: the Stasis application over ARI (issue 5) ----------------------------------------------


@main.command("ari")
@click.option(
    "--menu",
    "menu_name",
    type=click.Choice(["hotline", "basic"]),
    default="hotline",
    show_default=True,
    help="hotline: the configured menu (ivr.menu) with call records and voice messages as cases; "
    "basic: the built-in test menu (record or queue), no database.",
)
def ari(menu_name: str) -> None:
    """Run the Asterisk Stasis application (ARI settings: ivr.ari, GRIDLINE_IVR__ARI__* or GRIDLINE_ARI__*)."""
    from ivr.ari.app import serve
    from ivr.ari.settings import load_ari_settings

    try:
        config = load_config()
        settings = load_ari_settings(config)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    if menu_name == "basic":
        from ivr.ari.basic_menu import BasicMenu

        serve(settings, BasicMenu())
        return
    from ivr.ari.call_services import DatabaseServices
    from ivr.ari.hotline_menu import HotlineMenu
    from ivr.menu import Engine
    from ivr.settings import ivr_settings

    runtime = _runtime()
    wiring.init_worker()
    try:
        engine = Engine(ivr_settings(runtime.config).menu)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    services = DatabaseServices(settings)
    serve(settings, HotlineMenu(engine, services), on_call_end=services.call_ended)


# --- end of Asterisk ----------------------------------------------------------------------------------


# --- Grid workers, inbound mail (issue 6) ---------------------------------------------------------------


@main.group("grid-workers")
def grid_workers() -> None:
    """Grid workers (网格员): the register and their devices' tokens."""


@grid_workers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def grid_workers_import(file: str) -> None:
    """Create or update grid workers from CSV (code, name, phone, grid_code[, active]); all or nothing."""
    from channels.grid.workers import WorkerImportError, import_workers

    runtime = _runtime()
    wiring.import_models()
    try:
        with runtime.db.transaction() as session:
            done = import_workers(session, file)
    except WorkerImportError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"grid workers: {done.created} created, {done.updated} updated, {done.unchanged} unchanged")


@grid_workers.command("token")
@click.argument("code")
@click.option("--label", default="issued by the center", help="What the token is for (a device's name).")
@click.option("--days", type=int, help="Expire after this many days (default: until revoked).")
def grid_workers_token(code: str, label: str, days: int | None) -> None:
    """Print a bearer token for grid worker CODE's device (shown once; only its hash is kept)."""
    from channels.grid.workers import issue_token, worker_by_code

    runtime = _runtime()
    wiring.import_models()
    with runtime.db.transaction() as session:
        worker = worker_by_code(session, code)
        if worker is None or not worker.active:
            raise click.ClickException(f"no active grid worker {code}")
        click.echo(issue_token(session, worker, label, days=days))


@main.command("email-smtp")
@click.option("--host", help="Listen address (default: email.listen_host).")
@click.option("--port", type=int, help="Listen port (default: email.listen_port).")
def email_smtp(host: str | None, port: int | None) -> None:
    """Receive mail over SMTP for the addresses in email.inbound_addresses; each mail becomes a report."""
    from channels.email.smtp_server import serve

    runtime = _runtime()
    wiring.init_worker()
    if not runtime.config.email.our_addresses:
        raise click.ClickException("set email.inbound_addresses (or email.from_address) first")
    serve(host or runtime.config.email.listen_host, port or runtime.config.email.listen_port)


@main.command("email-poll")
@click.option("--once", is_flag=True, help="Poll once and stop.")
def email_poll(once: bool) -> None:
    """Take new mail from the IMAP mailbox (email.imap_*): IDLE, or every email.imap_poll_seconds."""
    from channels.email.imap import poll_once, watch

    runtime = _runtime()
    wiring.init_worker()
    if not runtime.config.email.imap_host:
        raise click.ClickException("set email.imap_host (and imap_username, GRIDLINE_EMAIL__IMAP_PASSWORD) first")
    if once:
        click.echo(f"email: {poll_once(runtime.config.email)} new message(s)")
    else:
        watch(runtime.config.email)


# --- end of grid workers, inbound mail ------------------------------------------------------------------


# --- partner platforms (Open311) -----------------------------------------------------------------------


@main.group()
def partners() -> None:
    """Partner platforms that file Open311 requests, each with its own API key."""


def _partner_key(action: str, name: str) -> str:
    from channels.open311 import partners as keys

    runtime = _runtime()
    wiring.import_models()
    try:
        with runtime.db.transaction() as session:
            return {"add": keys.add_partner, "rotate": keys.rotate_key}[action](session, name)
    except AuthError as err:
        raise click.ClickException(str(err)) from err


@partners.command("add")
@click.argument("name")
def partners_add(name: str) -> None:
    """Register partner NAME and print its API key (shown once; only its hash is kept)."""
    click.echo(_partner_key("add", name))


@partners.command("rotate")
@click.argument("name")
def partners_rotate(name: str) -> None:
    """Print a new API key for partner NAME; the old one stops working at once."""
    click.echo(_partner_key("rotate", name))


@partners.command("revoke")
@click.argument("name")
def partners_revoke(name: str) -> None:
    """Stop partner NAME's API key from working."""
    from channels.open311.partners import revoke_partner

    runtime = _runtime()
    wiring.import_models()
    try:
        with runtime.db.transaction() as session:
            revoke_partner(session, name)
    except AuthError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"revoked partner {name}")


# --- end partner platforms ------------------------------------------------------------------------------


# --- Camera alarms (探头巡查, issue 6) -------------------------------------------------------------------


@main.group()
def cameras() -> None:
    """The camera registry and the devices that push alarms."""


@cameras.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def cameras_import(file: str) -> None:
    """Create or update cameras from CSV (code[, name, vendor, mac, serial, ip, channel, lat, lon, ...])."""
    from channels.camera.registry import bump_version, import_cameras
    from routing.errors import RoutingError

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            done = import_cameras(session, file)
    except RoutingError as err:
        raise click.ClickException(str(err)) from err
    bump_version()
    click.echo(f"cameras: {done.created} created, {done.updated} updated, {done.unchanged} unchanged")


@cameras.command("sender")
@click.argument("name")
@click.option("--auth", "auth", required=True, type=click.Choice(["http", "token", "hmac", "mqtt"]))
@click.option("--password", help="http: the device's password (at least 8 characters); generated if omitted.")
def cameras_sender(name: str, auth: str, password: str | None) -> None:
    """Create or re-key a sender (camera, NVR, platform, Frigate); prints its credential once."""
    from channels.camera.registry import SenderError, bump_version, create_sender

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            credential = create_sender(session, name, auth, password)
    except SenderError as err:
        raise click.ClickException(str(err)) from err
    bump_version()
    what = {"http": "password", "token": "ONVIF consumer token", "hmac": "webhook secret"}.get(auth)
    click.echo(f"sender {name} ({auth})" + (f"; {what}: {credential}" if what else ""))


@main.command("camera-mqtt")
def camera_mqtt() -> None:
    """Subscribe to Frigate's events on the MQTT broker (camera.mqtt settings); its own process."""
    from channels.camera.mqtt import serve
    from channels.camera.settings import camera_settings

    runtime = _runtime()
    _warn_if_redis_volatile(runtime)
    wiring.init_worker()
    try:
        settings = camera_settings(runtime.config)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    if not settings.mqtt.instances:
        raise click.ClickException("set camera.mqtt.instances (or GRIDLINE_CAMERA__MQTT__INSTANCES) first")
    serve(runtime, settings)


# --- end of camera alarms -------------------------------------------------------------------------------


@main.command("worker")
@click.option("--count", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queues", multiple=True, help="Queues to serve (default: all, in priority order).")
def worker(count: int, burst: bool, queues: tuple[str, ...]) -> None:
    """Run RQ workers only (scale out: start this on more machines against the same Redis/DB)."""
    runtime = _runtime()
    wiring.init_worker()
    names = list(queues or ALL_QUEUES)
    if count == 1:
        rq_worker = Worker([Queue(name, connection=runtime.redis) for name in names], connection=runtime.redis)
        rq_worker.work(burst=burst, with_scheduler=True)
    else:
        WorkerPool(names, connection=runtime.redis, num_workers=count).start(burst=burst)


@main.command("scheduler")
def scheduler() -> None:
    """Run the periodic jobs (the sweeper that re-enqueues lost work)."""
    from rq.cron import CronScheduler

    from intake.processing import periodic_jobs, sweep
    from intake.queue import QUEUE_DEFAULT

    runtime = _runtime()
    wiring.init_worker()
    cron = CronScheduler(connection=runtime.redis, name=f"gridline-{os.getpid()}")
    cron.register(sweep, QUEUE_DEFAULT, interval=runtime.config.worker.sweep_interval_seconds)
    for job, interval in periodic_jobs():
        cron.register(job, QUEUE_DEFAULT, interval=interval)
    cron.start()


@main.command("web")
@click.option("--workers", type=int, help="gunicorn worker processes (default: server.web_workers).")
@click.option(
    "--worker-class",
    type=click.Choice(["gthread", "sync"]),
    help="default: server.web_worker_class; sync suits a pool that only takes webhooks",
)
def web_server(workers: int | None, worker_class: str | None) -> None:
    """Run the web server only (gunicorn)."""
    runtime = _runtime()
    _warn_if_redis_volatile(runtime)
    config = runtime.config
    os.execv(sys.executable, _gunicorn_argv(config, workers, worker_class))


def _gunicorn_argv(config: Config, workers: int | None = None, worker_class: str | None = None) -> list[str]:
    worker_class = worker_class or config.server.web_worker_class
    threads = ["--threads", str(config.server.web_threads)] if worker_class == "gthread" else []
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{config.server.host}:{config.server.port}",
        "--workers",
        str(workers or config.server.web_workers),
        "--worker-class",
        worker_class,
        *threads,
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
        "intake.app:create_app()",
    ]


@main.command("run")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
def run(no_demo: bool) -> None:
    """Start everything one machine needs: web server, workers and scheduler."""
    runtime = _runtime()
    _warn_if_redis_volatile(runtime)
    config = runtime.config
    camera_mqtt = _camera_mqtt_configured(config)
    # Children reach the same database and (embedded) Redis through the environment.
    os.environ["GRIDLINE_DATABASE__URL"] = config.database_url
    os.environ["GRIDLINE_REDIS__URL"] = runtime.redis_url
    empty = migrate.is_empty(runtime)
    migrate.upgrade(runtime)
    if empty and config.demo.load_on_empty and not no_demo:
        _load_demo(runtime, None)
    children = {
        "web": _gunicorn_argv(config),
        "scheduler": [sys.executable, "-m", "intake.cli", "scheduler"],
    }
    if config.worker.count:
        children["worker"] = [sys.executable, "-m", "intake.cli", "worker", "--count", str(config.worker.count)]
    if (config.ivr.get("ari") or {}).get("enabled"):
        children["ari"] = [sys.executable, "-m", "intake.cli", "ari"]
    if config.email.inbound_addresses:
        children["email-smtp"] = [sys.executable, "-m", "intake.cli", "email-smtp"]
    if config.email.imap_host:
        children["email-poll"] = [sys.executable, "-m", "intake.cli", "email-poll"]
    if camera_mqtt:
        children["camera-mqtt"] = [sys.executable, "-m", "intake.cli", "camera-mqtt"]
    click.echo(f"Gridline on {config.public_url}  (Ctrl-C stops)")
    _supervise(children)


def _camera_mqtt_configured(config: Config) -> bool:
    """Whether ``camera.mqtt.instances`` names a Frigate (a wrong camera section stops ``run`` here)."""
    from channels.camera.settings import camera_settings

    try:
        return bool(camera_settings(config).mqtt.instances)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err


def _supervise(commands: dict[str, list[str]]) -> None:
    """Run each command, restart any that dies, and stop them all on SIGINT/SIGTERM."""
    processes = {name: subprocess.Popen(argv) for name, argv in commands.items()}
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.5)
        for name, process in processes.items():
            if process.poll() is not None and not stopping:
                log.warning("%s exited with %s; restarting", name, process.returncode)
                time.sleep(RESTART_DELAY_SECONDS)
                processes[name] = subprocess.Popen(commands[name])
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
