#!/usr/bin/python3
"""The web console in a real headless browser: Debian's chromium driven through chromedriver by
Debian's python3-selenium (nothing downloads a browser). Each test class makes a scratch database
on CAIRN_TEST_DATABASE_URL's server, migrates it with `cairn migrate --app`, starts real
`cairn-worker` / `cairn console` processes with --http on a free local port, and clicks through
the console. A missing browser, driver or database is a failure, never a skip.

ctest runs it (label `browser`) with the paths of the binaries and modules:
  console_test.py --cli build/bin/cairn --worker build/bin/cairn-worker \
      --counter-module build/tests/libcairn_test_counter.so \
      --holiday-module build/examples/libcairn_example_holiday_booking.so [--screenshot PATH]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:  # a failure, not a skip: tools/setup installs python3-selenium
    sys.exit(f"console_test: python3-selenium is missing ({error}); run tools/setup (use /usr/bin/python3)")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "console-test-token"
WAIT = 30  # seconds: the longest any one expectation may take on a loaded machine

ARGS = None  # the command line, parsed in main()


# -- processes and the database --

def run(*command, env=None, check=True):
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def database_url_for(base, name):
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Database:
    """A scratch database on CAIRN_TEST_DATABASE_URL's server, dropped afterwards."""

    count = 0

    def __init__(self):
        self.admin = os.environ.get("CAIRN_TEST_DATABASE_URL")
        if not self.admin:
            raise AssertionError("CAIRN_TEST_DATABASE_URL is not set: run tools/test, or export the URL of a server "
                                 "where this user may create databases")
        Database.count += 1
        self.name = f"cairn_browser_{os.getpid()}_{Database.count}"
        self.url = database_url_for(self.admin, self.name)
        self.sql(f'CREATE DATABASE "{self.name}"', admin=True)

    def sql(self, statement, admin=False):
        return run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.admin if admin else self.url,
                   "-c", statement).stdout.strip()

    def drop(self):
        run("psql", "-X", "-q", "-d", self.admin, "-c", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
            check=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A cairn-worker or `cairn console` serving HTTP on a free local port; its output in a log file."""

    def __init__(self, command, env, logs, name):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(logs, name + ".log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command + ["--http", f"127.0.0.1:{self.port}"], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{name} exited {self.process.returncode} before serving:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + "/api/status", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{name} did not serve {self.base} within {WAIT} s:\n{self.tail()}")
            time.sleep(0.1)

    def api(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.load(response)

    def tail(self):
        self.log.flush()
        with open(self.log_path) as f:
            return "".join(f.readlines()[-30:])

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def browser():
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is missing: install Debian's {package} (tools/setup does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,900", "--force-device-scale-factor=1", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, what, condition, timeout=WAIT):
    """Waits until condition(driver) is truthy (stale elements count as not yet); returns its value."""
    def attempt(d):
        try:
            return condition(d)
        except StaleElementReferenceException:
            return False
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(attempt)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def rows(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def state_of(driver, css):
    """The data-state of the element `css` finds, read as one step: the live page may re-render in between."""
    return wait_for(driver, f"the state of {css}",
                    lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute("data-state"))


def click(driver, css, what):
    """Clicks the first element matching css once there is one (again if a live update replaced it)."""
    def attempt(d):
        found = rows(d, css)
        if not found:
            return False
        found[0].click()
        return True
    wait_for(driver, what, attempt)


# -- the tests --

class ConsoleTestCase(unittest.TestCase):
    """A scratch database, a temporary directory for logs and one browser per class."""

    @classmethod
    def setUpClass(cls):
        cls.cleanups = []
        try:
            cls.logs = tempfile.mkdtemp(prefix="cairn-browser-")
            cls.cleanups.append(lambda: shutil.rmtree(cls.logs, ignore_errors=True))
            cls.db = Database()
            cls.cleanups.append(cls.db.drop)
            cls.env = dict(os.environ, CAIRN_DATABASE_URL=cls.db.url)
            cls.env.pop("CAIRN_CONSOLE_TOKEN", None)
            cls.prepare()
            cls.driver = browser()
            cls.cleanups.append(cls.driver.quit)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            try:
                cleanup()
            except Exception as error:  # the rest still runs
                print(f"cleanup: {error}", file=sys.stderr)
        cls.cleanups = []

    @classmethod
    def serve(cls, command, name, token=None):
        env = dict(cls.env)
        if token:
            env["CAIRN_CONSOLE_TOKEN"] = token
        server = Server(command, env, cls.logs, name)
        cls.cleanups.append(server.stop)
        return server

    def cairn(self, *args):
        return run(ARGS.cli, *args, env=self.env)

    def open_console(self, server, hash_part="#/overview", token=None):
        self.driver.get(server.base + "/" + hash_part)
        wait_for(self.driver, "the console to load its status",
                 lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")
        self.driver.execute_script(
            "arguments[0] ? sessionStorage.setItem('cairn.console.token', arguments[0]) "
            ": sessionStorage.removeItem('cairn.console.token')", token or "")
        self.driver.refresh()
        wait_for(self.driver, "the console to load its status again",
                 lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

    def fail_with_logs(self, server, error):
        raise AssertionError(f"{error}\n--- {server.log_path}:\n{server.tail()}") from None


class StoppedStreams(ConsoleTestCase):
    """A worker serving the console stops a stream on a poison increment (counter.totals fails on
    an increment of 666 until public.counter_fixes holds the stream); the operator resumes it."""

    @classmethod
    def prepare(cls):
        run(ARGS.cli, "migrate", "--app", ARGS.counter_module, env=cls.env)
        for stream in ("counter-refused", "counter-resumed"):
            run(ARGS.cli, "handle", "--app", ARGS.counter_module, stream, "counter.increment", '{"by": 666}', env=cls.env)
        run(ARGS.cli, "handle", "--app", ARGS.counter_module, "counter-fine", "counter.increment", '{"by": 5}', env=cls.env)
        cls.worker = cls.serve([ARGS.worker, "--app", ARGS.counter_module, "--max-attempts", "2", "--poll-ms", "50"],
                               "worker", token=TOKEN)
        deadline = time.monotonic() + WAIT
        while True:
            stopped = {f["stream_id"] for f in cls.worker.api("/api/status")["failed_streams"] if f["stopped"]}
            if {"counter-refused", "counter-resumed"} <= stopped:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the poison streams did not stop: {stopped}\n{cls.worker.tail()}")
            time.sleep(0.1)

    def stopped_row(self, stream):
        return f'#stopped-rows tr[data-group="counter.totals"][data-stream="{stream}"]'

    def test_a_console_shows_the_stopped_streams_and_the_groups(self):
        self.open_console(self.worker)
        d = self.driver
        row = wait_for(d, "the stopped stream counter-resumed", lambda d: rows(d, self.stopped_row("counter-resumed")))[0]
        self.assertEqual(row.get_attribute("data-state"), "stopped")
        self.assertIn("poison increment on counter-resumed", row.find_element(By.CSS_SELECTOR, "td.error").text)
        groups = {r.get_attribute("data-group"): r for r in rows(d, "#group-rows tr")}
        self.assertIn("counter.totals", groups)
        self.assertIn("counter.effects", groups)
        self.assertEqual(groups["counter.totals"].get_attribute("data-state"), "active")
        slices = groups["counter.totals"].find_elements(By.CSS_SELECTOR, "ul.slices li")
        self.assertGreaterEqual(len(slices), 1)
        self.assertNotIn("no owner", slices[0].text)  # the worker holds its slices
        self.assertEqual(d.find_element(By.ID, "mode").get_attribute("data-mode"), "actions")
        wait_for(d, "the live event stream", lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
        # The live stream re-renders the page: look the slice up again rather than keep its element.
        wait_for(d, "the slice's lag", lambda d: "lag" in d.find_element(
            By.CSS_SELECTOR, '#group-rows tr[data-group="counter.totals"] ul.slices li').text)
        if ARGS.screenshot:
            d.save_screenshot(ARGS.screenshot)

    def test_b_resume_without_the_token_is_refused(self):
        self.open_console(self.worker, token=None)
        d = self.driver
        button = f'{self.stopped_row("counter-refused")} button[data-action="resume"]'
        click(d, button, "the Resume button of counter-refused")
        flash = wait_for(d, "the refusal", lambda d: d.find_element(By.ID, "flash").is_displayed()
                         and d.find_element(By.ID, "flash").get_attribute("data-kind") == "error"
                         and d.find_element(By.ID, "flash"))
        self.assertIn("resume refused (401)", flash.text)
        self.assertIn("token", flash.text)
        # Still stopped, in the page and in the store.
        self.assertEqual(state_of(d, self.stopped_row("counter-refused")), "stopped")
        failed = self.cairn("status", "--json").stdout
        self.assertIn('"stream_id":"counter-refused"', failed)
        # A wrong token is refused as well.
        self.open_console(self.worker, token="not-" + TOKEN)
        click(d, button, "the Resume button of counter-refused")
        flash = wait_for(d, "the refusal of a wrong token",
                         lambda d: "(403)" in d.find_element(By.ID, "flash").text and d.find_element(By.ID, "flash"))
        self.assertIn("the token is wrong", flash.text)
        self.assertEqual(state_of(d, self.stopped_row("counter-refused")), "stopped")

    def test_c_resume_with_the_token_resumes_the_stream(self):
        self.db.sql("INSERT INTO public.counter_fixes VALUES ('counter-resumed')")  # the fix, then Resume
        self.open_console(self.worker, token=TOKEN)
        d = self.driver
        click(d, f'{self.stopped_row("counter-resumed")} button[data-action="resume"]', "the Resume button of counter-resumed")
        flash = wait_for(d, "the confirmation", lambda d: d.find_element(By.ID, "flash").get_attribute("data-kind") == "ok"
                         and d.find_element(By.ID, "flash"))
        self.assertIn("resumed counter-resumed in counter.totals", flash.text)
        # The worker catches the stream up and clears its failure: the row goes, pushed by the event stream.
        wait_for(d, "counter-resumed to leave the stopped list",
                 lambda d: not rows(d, self.stopped_row("counter-resumed")))
        self.assertEqual(self.db.sql("SELECT total FROM public.counter_totals WHERE stream_id = 'counter-resumed'"), "666")
        # The other poison stream is still stopped; once it is fixed and resumed too, the list is empty.
        self.db.sql("INSERT INTO public.counter_fixes VALUES ('counter-refused')")
        click(d, f'{self.stopped_row("counter-refused")} button[data-action="resume"]', "the Resume button of counter-refused")
        wait_for(d, "the stopped list to be empty", lambda d: d.find_element(By.ID, "stopped-empty").is_displayed())
        self.assertEqual(rows(d, "#stopped-rows tr"), [])


class HolidayTrace(ConsoleTestCase):
    """The holiday booking saga runs in a worker; `cairn console` (another process, the module
    loaded) draws its trace as a tree and shows the booking's state at a seq."""

    @classmethod
    def prepare(cls):
        module = ARGS.holiday_module
        run(ARGS.cli, "migrate", "--app", module, env=cls.env)
        # 21 nights: the hotel refuses, the booking fails and cancels the flight once it is booked.
        run(ARGS.cli, "handle", "--app", module, "booking-b1", "travel.start_booking",
            '{"traveller":"ann","destination":"Lisbon","date":"2027-05-01","nights":21}', "--correlation-id", "trip-b1",
            env=cls.env)
        log = open(os.path.join(cls.logs, "worker.log"), "w")
        cls.cleanups.append(log.close)
        worker = subprocess.Popen([ARGS.worker, "--app", module, "--poll-ms", "50"], env=cls.env,
                                  stdout=subprocess.DEVNULL, stderr=log)
        cls.cleanups.append(lambda: (worker.send_signal(signal.SIGTERM), worker.wait(10)))
        deadline = time.monotonic() + WAIT
        while True:
            state = json.loads(run(ARGS.cli, "state", "--app", module, "booking-b1", env=cls.env).stdout)
            if state.get("status") == "compensated":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the booking did not end compensated: {state}")
            time.sleep(0.2)
        cls.console = cls.serve([ARGS.cli, "console", "--db", cls.db.url, "--app", module], "console")

    def test_the_trace_of_a_booking_is_a_tree(self):
        self.open_console(self.console, "#/trace")
        d = self.driver
        d.find_element(By.ID, "trace-id").send_keys("trip-b1")
        d.find_element(By.CSS_SELECTOR, "#trace-form button").click()
        nodes = wait_for(d, "the trace tree", lambda d: rows(d, "#trace-tree li.trace-node"))
        # As many nodes as `cairn trace` prints lines (17 or more: the answers may arrive in either order).
        expected = len(self.cairn("trace", "trip-b1").stdout.splitlines())
        self.assertGreaterEqual(expected, 17)
        self.assertEqual(len(nodes), expected)
        self.assertIn(f"trip-b1: {expected} message(s)", d.find_element(By.ID, "trace-summary").text)

        def parent(node):  # the trace node whose list holds this one
            return node.find_element(By.XPATH, "./parent::ul/parent::li[contains(@class, 'trace-node')]")

        top = rows(d, "#trace-tree > ul > li.trace-node")
        self.assertEqual([n.get_attribute("data-type") for n in top], ["travel.start_booking"])
        started = top[0].find_element(By.CSS_SELECTOR, ":scope > ul > li[data-type='travel.booking_started']")
        children = {n.get_attribute("data-type"): n
                    for n in started.find_elements(By.CSS_SELECTOR, ":scope > ul > li.trace-node")}
        self.assertIn("travel.book_flight", children)
        self.assertIn("travel.book_hotel", children)
        self.assertEqual(children["travel.book_hotel"].get_attribute("data-stream"), "hotel-b1")
        # The hotel's refusal, three levels further down, and the flight's cancellation under the failure.
        rejected = d.find_element(By.CSS_SELECTOR, "#trace-tree li[data-type='travel.hotel_booking_failed']")
        self.assertEqual(parent(rejected).get_attribute("data-type"), "travel.book_hotel")
        self.assertEqual(int(rejected.get_attribute("data-depth")), 3)
        cancel = d.find_element(By.CSS_SELECTOR, "#trace-tree li[data-type='travel.cancel_flight']")
        self.assertEqual(cancel.get_attribute("data-stream"), "flight-b1")
        for node in nodes[1:]:  # every message hangs under its cause
            self.assertGreater(int(node.get_attribute("data-depth")), 0)
            self.assertEqual(int(parent(node).get_attribute("data-depth")), int(node.get_attribute("data-depth")) - 1)

    def test_the_stream_browser_pages_and_shows_the_state_at_a_seq(self):
        self.open_console(self.console, "#/streams?prefix=booking-")
        d = self.driver
        wait_for(d, "the booking in the stream list", lambda d: rows(d, '#stream-rows tr[data-stream="booking-b1"]'))[0] \
            .find_element(By.TAG_NAME, "a").click()
        first = wait_for(d, "the first page of booking-b1", lambda d: rows(d, '#message-rows tr[data-seq="1"]'))
        self.assertIn("travel.start_booking", first[0].text)
        self.assertIn('"traveller": "ann"', first[0].find_element(By.CSS_SELECTOR, "pre.payload").text)
        # The state after the booking started (seq 2: seq 1 is the command), then as it was at seq 1.
        click(d, '#message-rows tr[data-seq="2"] button[data-action="state"]', "the state button of seq 2")
        shown = wait_for(d, "the state at seq 2", lambda d: d.find_element(By.ID, "state-json").get_attribute("data-seq") == "2"
                         and d.find_element(By.ID, "state-json"))
        self.assertIn('"status": "pending"', shown.text)
        d.find_element(By.ID, "state-seq").clear()
        d.find_element(By.ID, "state-seq").send_keys("1")
        d.find_element(By.ID, "state-show").click()
        shown = wait_for(d, "the state at seq 1", lambda d: d.find_element(By.ID, "state-json").get_attribute("data-seq") == "1"
                         and d.find_element(By.ID, "state-json"))
        self.assertIn('"status": "new"', shown.text)
        # Paging: 20 messages a page; the booking has fewer, so Next is disabled and Last stays here.
        self.assertFalse(d.find_element(By.ID, "page-next").is_enabled())


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--counter-module", required=True)
    parser.add_argument("--holiday-module", required=True)
    parser.add_argument("--screenshot", help="where to save the overview's screenshot ($CAIRN_CONSOLE_SCREENSHOT "
                                             "wins: e.g. docs/console.png for the README)")
    ARGS, rest = parser.parse_known_args()
    ARGS.screenshot = os.environ.get("CAIRN_CONSOLE_SCREENSHOT") or ARGS.screenshot
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
