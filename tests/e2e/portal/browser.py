"""Browser-test plumbing: a real uvicorn server on a loopback port, and headless Debian Chromium.

Chromium runs with the flags this machine needs (no sandbox as root, no background network,
a fresh profile). Skipped only when Chromium is missing outside CI; in CI (CI=true) a missing
browser fails the tests, never skips them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..served import free_port

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PORTAL_CHROMEDRIVER", "/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "screenshots"
DESKTOP, TABLET = (1366, 900), (820, 1180)


def require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI but {', '.join(missing)} is missing "
                    "(apt-get install chromium chromium-driver)")
    pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)")


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread (lifespan included) until the block ends."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name="portal-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def chromium(width: int, height: int) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="portal-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str, *, full_page: bool = True) -> Path:
    """Save ``screenshots/<name>.png``; with ``full_page`` the window grows to the page's height."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        width = driver.get_window_size()["width"]
        height = driver.execute_script("return Math.max(document.body.scrollHeight, window.innerHeight)")
        driver.set_window_size(width, min(int(height) + 120, 12000))
    driver.save_screenshot(str(path))
    return path


@contextmanager
def live_ledger(tmp: Path) -> Iterator[tuple[str, object]]:
    """A new SQLite ledger in ``tmp`` (migrated, its own sealing key) served on a loopback port:
    (base URL, the app)."""
    from api.app import create_app
    from ledger.keys.keystore import KeyStore
    from ledger.settings import Settings
    from ledger.store import migrations
    from ledger.store.database import Database

    KeyStore(tmp / "keys").create("browser sealing passphrase")
    database = Database.from_url(f"sqlite:///{tmp}/ledger.sqlite")
    migrations.upgrade(database)
    settings = Settings(env="test", database_url=database.url, keys_dir=tmp / "keys",
                        key_passphrase="browser sealing passphrase", site_secret="browser site secret, long enough",
                        token_secret="browser token secret, long enough", insecure_fast_hashing=True, pool_size=4)
    app = create_app(settings)
    with live_server(app) as base:
        yield base, app
