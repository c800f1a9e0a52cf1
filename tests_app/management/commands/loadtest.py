"""`manage.py loadtest`: one load test in the foreground, recorded like any other run.

Every flag is checked before anything starts (exit 2 with one line naming the flag); the run
then waits for its turn in the run queue like any other (saying where it waits), or with
`--no-wait` exits 2 saying why when it cannot start at once; then it goes through the same
service as the run task, with a live display, and
whatever it started (sandbox, Locust) is stopped however it ends, Ctrl-C included.
Exit 0 when the run passes its thresholds, 1 when it does not, 2 on bad input, 130 when it
was cancelled with Ctrl-C (a second Ctrl-C stops at once, still as cancelled, data kept).
`--json PATH` and `--junit PATH` are written when the run ends, whatever its verdict; the
`--junit` path is checked writable before anything starts.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F, Q

from clusters.algorithms import ALGORITHMS
from clusters.allowlist import check_url
from clusters.base import ClusterError
from clusters.durations import SpecError, parse_duration
from clusters.faults import FAULT_KINDS
from clusters.kubernetes.balancers import DEFAULT_KUBERNETES_BALANCER, KUBERNETES_BALANCERS, check_traffic_distribution
from clusters.sandbox.backends import BALANCER_BACKENDS, DEFAULT_BACKEND
from clusters.sandbox.config import DEFAULT_RETRIES
from clusters.sandbox.stateful import DEFAULT_DURABILITY, DURABILITY_MODES, STORE_WRITES, STORES, check_stateful
from clusters.targets import target_kind
from lbsite.db import NotMigrated, ensure_migrated
from metrics_app.reports import junit_xml
from tests_app import services
from tests_app.cli_display import LiveDisplay, cli_console, print_results
from tests_app.engine.userfile import LocustfileError, LocustfileInfo, inspect_locustfile
from tests_app.execution import RunInterrupted
from tests_app.models import LoadTestRun, Scenario, Shape, Target

CLI_USER = "lblab-cli"


# Exit status of a run stopped with Ctrl-C, as shells report a command SIGINT ended (128 + 2).
EXIT_CANCELLED = 130
WAIT_POLL_S = 1.0  # how often a run waiting for its turn asks the queue again
# Settings of a Kubernetes target: refused on other targets rather than silently ignored.
KUBERNETES_ONLY = ("--context", "--namespace", "--selector", "--service", "--route", "--traffic-distribution",
                   "--slow-start")


def bad(flag: str, reason: str) -> CommandError:
    return CommandError(f"{flag}: {reason}", returncode=2)


class Command(BaseCommand):
    help = "Run a load test against the sandbox, a URL or Kubernetes pods and judge how evenly it was balanced."

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--sandbox", action="store_true", help="start a sandbox cluster for this run")
        where.add_argument("--target", metavar="URL", help="base URL to load (must be allow-listed)")
        parser.add_argument("--kubernetes", action="store_true",
                            help="the pods are in Kubernetes: --namespace, --selector, and --target URL (the "
                                 "Service, Ingress or Gateway address the load goes to)")
        parser.add_argument("--context", default="", help="Kubernetes: the kubeconfig context (default: current)")
        parser.add_argument("--namespace", default="", help="Kubernetes: the namespace (LBLAB_ALLOWED_NAMESPACES)")
        parser.add_argument("--selector", default="", metavar="LABELS",
                            help="Kubernetes: the label selector of the pods, e.g. app=web")
        parser.add_argument("--service", default="",
                            help="Kubernetes: the Service's name (default: the selector's first value)")
        parser.add_argument("--pods", type=int, default=4, help="sandbox pods (default 4)")
        parser.add_argument("--algorithm", default="round_robin", help=f"sandbox balancer: {', '.join(ALGORITHMS)}")
        parser.add_argument("--balancer", default=None,
                            help=f"what balances the pods. Sandbox: {', '.join(BALANCER_BACKENDS)} "
                                 f"(default {DEFAULT_BACKEND}: LB Lab's own; nginx and haproxy: Debian's, "
                                 f"`make balancers` installs them). Kubernetes: {', '.join(KUBERNETES_BALANCERS)} "
                                 f"(default {DEFAULT_KUBERNETES_BALANCER}: kube-proxy alone), whose settings the "
                                 "tuner changes")
        parser.add_argument("--route", default="",
                            help="Kubernetes: the HTTPRoute (gateway) or Ingress (ingress-nginx) the balancer "
                                 "settings attach to (default: named as the Service)")
        parser.add_argument("--traffic-distribution", default="", metavar="PreferSameZone|PreferSameNode",
                            help="Kubernetes, balancer none: the Service's trafficDistribution for the run "
                                 "(PreferClose: the older name of PreferSameZone); put back at its end")
        parser.add_argument("--slow-start", default=None, metavar="DURATION",
                            help="Kubernetes, balancer gateway or istio with round robin or least request: new pods' "
                                 "share ramped up over this window (e.g. 30s), for the run")
        parser.add_argument("--pod-header", default="X-Pod", help="response header naming the pod (default X-Pod)")
        parser.add_argument("--expect-pods", metavar="N|NAMES",
                            help="pods that should get traffic: a count, or names separated by commas")
        parser.add_argument("--locustfile", metavar="PATH",
                            help="run your own locustfile (its user classes send the load; LB Lab's plugin counts "
                                 "each request for the pod that served it); its LoadTestShape, if any, drives the users")
        parser.add_argument("--user-class", action="append", default=[], metavar="NAME", dest="user_classes",
                            help="with --locustfile: run this user class only (repeatable; default: all of them)")
        parser.add_argument("--scenario", help="a saved scenario or preset, by name")
        parser.add_argument("--shape", choices=Shape.values, default=Shape.STEADY)
        parser.add_argument("--users", type=int, default=10)
        parser.add_argument("--spawn-rate", type=float, help="users started per second (default: all in 1 s)")
        parser.add_argument("--duration", default="30s", help="30s, 2m, or seconds (default 30s)")
        parser.add_argument("--no-keep-alive", action="store_true", help="a new connection per request")
        parser.add_argument("--arrival-rate", type=float, metavar="RPS",
                            help="open model: requests/s at a fixed Poisson rate (users cap concurrency)")
        parser.add_argument("--workers", type=int, default=1, help="Locust worker processes (default 1)")
        parser.add_argument("--chaos", action="append", default=[], metavar="KIND@START:DURATION[:SEVERITY][:POD]",
                            help=f"a fault step, repeatable; kinds: {', '.join(FAULT_KINDS)}")
        parser.add_argument("--experiment", metavar="NAME",
                            help="a chaos experiment (yours or a preset) by name, instead of --chaos steps")
        retries = parser.add_mutually_exclusive_group()
        retries.add_argument("--retries", type=int, metavar="N",
                             help="sandbox balancer: retry a failed idempotent request on another pod up to N "
                                  f"times (default {DEFAULT_RETRIES}, as nginx's proxy_next_upstream)")
        retries.add_argument("--no-retries", action="store_true", help="sandbox balancer: never retry (--retries 0)")
        parser.add_argument("--threshold", type=float, help="balance score threshold, percent (default 95)")
        parser.add_argument("--autotune", metavar="POLICY",
                            help="a tuning policy by name or id: the tuner keeps the balance score at its target by "
                                 "acting on the target's balancer (sandbox and Kubernetes targets)")
        parser.add_argument("--stateful", metavar="STORE",
                            help=f"sandbox: start a store beside the pods ({', '.join(STORES)}); primary_kill and "
                                 "primary_stop act on it; without --scenario the users write to it (POST /kv)")
        parser.add_argument("--durability", metavar="MODE",
                            help=f"with --stateful: when a write counts as confirmed ({', '.join(DURABILITY_MODES)}, "
                                 f"default {DEFAULT_DURABILITY})")
        parser.add_argument("--json", metavar="PATH", help="write the summary here (the API's `summary`)")
        parser.add_argument("--junit", metavar="PATH",
                            help="write JUnit XML here when the run ends, passed or not: a test case per threshold "
                                 "and per chaos injection")
        parser.add_argument("--user", help=f"record the run as this user (default {CLI_USER})")
        parser.add_argument("--name", default="", help="the run's name (default: its scenario and target)")
        parser.add_argument("--dry-run", action="store_true",
                            help="check everything, print as YAML every object the run would create or change in "
                                 "the target's cluster (its chaos steps, the tuner's switches), and stop: nothing is "
                                 "created, changed or loaded")
        parser.add_argument("--no-wait", action="store_true",
                            help="exit 2 (nothing started) when the run queue cannot start the run now, instead of "
                                 "waiting its turn")

    def handle(self, *args, **options):
        # Everything is checked before anything is written or started.
        try:
            ensure_migrated()
        except NotMigrated as error:
            raise CommandError(str(error), returncode=2) from error
        json_path = self._json_path(options["json"])
        junit_path = self._writable_path("--junit", options["junit"])
        owner = self._owner(options["user"])
        locustfile = self._locustfile(options)
        request = services.RunRequest(
            target=self._target_fields(options), scenario=self._scenario(options, owner),
            scenario_overrides=self._scenario_overrides(options), chaos=options["chaos"],
            experiment=options["experiment"],
            autotune=options["autotune"], workers=options["workers"],
            name=options["name"], locustfile=locustfile, user_classes=options["user_classes"],
        )
        if options["dry_run"]:
            with transaction.atomic():
                try:
                    self.stdout.write(services.dry_run(owner=owner or self._cli_user(), request=request), ending="")
                except services.RunRejected as rejected:
                    raise bad(*_flag_and_reason(rejected.errors)) from rejected
                finally:
                    transaction.set_rollback(True)  # not even the CLI's user is created
            return
        with transaction.atomic():
            if owner is None:
                owner = self._cli_user()
            try:
                run = services.submit_run(owner=owner, request=request, queue=False)
            except services.TooManyRuns as refused:
                raise CommandError(refused.errors["runs"][0], returncode=2) from refused
            except services.RunRejected as rejected:
                raise bad(*_flag_and_reason(rejected.errors)) from rejected

        stop = threading.Event()

        def on_interrupt(signum, frame):
            if stop.is_set():
                raise RunInterrupted("a second Ctrl-C")  # stop waiting for Locust's last report
            stop.set()
            self.stderr.write("stopping… (Ctrl-C again to stop at once)")

        self.stdout.write(f"Run {run.pk}: {run.page_url}")
        console = cli_console(self.stdout._out)
        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            self._wait_for_turn(run, no_wait=options["no_wait"], stop=stop)
            with LiveDisplay(run, console=console) as display:
                run = services.execute_run(run.pk, listeners=[display.attach], should_stop=stop.is_set)
        finally:
            signal.signal(signal.SIGINT, previous)
        print_results(run, console=console)
        self.stdout.write(f"Run {run.pk}: {run.page_url}")
        if json_path:
            json_path.write_text(json.dumps(run.summary, indent=2) + "\n")
        if junit_path:
            junit_path.write_text(run_junit_xml(run))
        if run.status == LoadTestRun.Status.CANCELLED:
            raise CommandError(f"run {run.pk} cancelled", returncode=EXIT_CANCELLED)
        if not run.verdict_passed:
            raise CommandError(f"run {run.pk} {run.status}" + (f": {run.error}" if run.error else ""), returncode=1)

    def _locustfile(self, options) -> LocustfileInfo | None:
        """The user's own locustfile, checked before anything is created (in a child Python: this
        process never imports Locust): it imports, has the user classes, and uses an HTTP client
        LB Lab attributes. Exit 2 with the file and line when Python fails on it."""
        if not options["locustfile"]:
            if options["user_classes"]:
                raise bad("--user-class", "only with --locustfile")
            return None
        if options["arrival_rate"] is not None:
            raise bad("--arrival-rate", "not with --locustfile: its users send at their own pace (the closed model)")
        try:
            return inspect_locustfile(options["locustfile"], user_classes=options["user_classes"])
        except LocustfileError as error:
            raise bad("--user-class" if error.field == "user_classes" else "--locustfile", str(error)) from error

    def _wait_for_turn(self, run: LoadTestRun, *, no_wait: bool, stop: threading.Event) -> None:
        """Wait until the run queue gives the run its turn, saying where it waits when that changes;
        with --no-wait, withdraw it and exit 2 instead. Ctrl-C while waiting cancels it."""
        shown = None
        while (place := services.take_turn(run)) is not None:
            if no_wait and services.withdraw_run(run):
                raise CommandError(f"--no-wait: run not started, the queue is full: {place.text}", returncode=2)
            if place.text != shown:
                self.stderr.write(f"waiting for a turn: {place.text}")
                shown = place.text
            if stop.wait(WAIT_POLL_S):
                services.request_stop(run=run)  # cancelled before it started
                return

    # Each check below raises `bad(flag, reason)`; nothing has been created when one does.

    def _owner(self, username):
        """The named user, or the CLI user if it exists already (None: create it when the run starts)."""
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise bad("--user", f"no user named {username!r}")
            return user
        return get_user_model().objects.filter(username=CLI_USER).first()

    def _cli_user(self):
        user = get_user_model()(username=CLI_USER)
        user.set_unusable_password()  # it records runs; nobody logs in as it
        user.save()
        return user

    def _scenario(self, options, owner) -> Scenario | dict:
        """A saved scenario named by --scenario, or the whole scenario described by the flags."""
        if options["scenario"]:
            mine = Q(owner=owner) if owner is not None else Q(pk__in=[])
            found = Scenario.objects.filter(mine | Q(owner__isnull=True), name=options["scenario"])
            scenario = found.order_by(F("owner_id").asc(nulls_last=True)).first()  # own before the preset
            if scenario is None:
                names = ", ".join(Scenario.objects.filter(owner__isnull=True).values_list("name", flat=True))
                raise bad("--scenario", f"no scenario named {options['scenario']!r} (presets: {names})")
            return scenario
        try:
            duration = parse_duration(options["duration"])
        except SpecError as error:
            raise bad("--duration", str(error)) from error
        if duration < 1:
            raise bad("--duration", "must be at least 1 second")
        return {
            "shape": options["shape"], "users": options["users"],
            # default: every user started in the first second, as fast as the budget lets
            "spawn_rate": options["spawn_rate"] if options["spawn_rate"] is not None
            else min(float(options["users"]), settings.LBLAB_MAX_SPAWN_RATE),
            "duration_s": round(duration), "keep_alive": not options["no_keep_alive"],
            "arrival_rate": options["arrival_rate"], "spike_at_s": round(duration / 3),
            "spike_length_s": max(1, round(duration / 3)),
            "threshold_balance": 95.0 if options["threshold"] is None else options["threshold"],
            # a stateful sandbox's users write to its store, so a primary fault shows in their requests
            "request_mix": list(STORE_WRITES) if options["stateful"] else [{"path": "/", "method": "GET", "weight": 1}],
        }

    def _scenario_overrides(self, options) -> dict:
        """What the flags change of a saved scenario, for this run's copy only."""
        if options["scenario"] and options["threshold"] is not None:
            return {"threshold_balance": options["threshold"]}
        return {}

    def _target_fields(self, options) -> dict:
        expected_names, expected_count = self._expected_pods(options["expect_pods"])
        retries = 0 if options["no_retries"] else options["retries"]
        if options["sandbox"] and options["kubernetes"]:
            raise bad("--kubernetes", "load the sandbox or Kubernetes pods, not both")
        if not options["kubernetes"]:
            for flag in KUBERNETES_ONLY:
                if options[flag.removeprefix("--").replace("-", "_")] not in ("", None):
                    raise bad(flag, "only with --kubernetes")
        if options["sandbox"]:
            fields = {"kind": "sandbox", "pods": options["pods"], "balancer": options["balancer"] or DEFAULT_BACKEND,
                      "algorithm": options["algorithm"]}
            if retries is not None:
                fields["retries"] = retries
            fields |= self._stateful_fields(options)
        elif options["stateful"] or options["durability"]:
            raise bad("--stateful" if options["stateful"] else "--durability",
                      "a stateful store runs beside the sandbox's pods only: use --sandbox")
        elif options["kubernetes"]:
            fields = self._kubernetes_fields(options, retries)
        elif options["target"]:
            if retries is not None:
                raise bad("--retries" if options["retries"] is not None else "--no-retries",
                          "only the sandbox's balancer has retries LB Lab can set")
            url = options["target"].rstrip("/")
            self._check_reachable(url)
            fields = {"kind": "url", "base_url": url, "pod_header": options["pod_header"]}
        else:
            raise bad("--sandbox/--target", "say what to load: --sandbox, --target URL, or --kubernetes with --target URL")
        return fields | {"expected_pods": expected_names, "expected_pod_count": expected_count}

    def _stateful_fields(self, options) -> dict:
        store, mode = options["stateful"] or "", options["durability"] or DEFAULT_DURABILITY
        try:
            check_stateful(store, mode, binaries=True)
        except ClusterError as error:
            raise bad(f"--{error.field}", error.args[0]) from error
        return {"stateful": store, "durability": mode} if store else {}

    def _kubernetes_fields(self, options, retries) -> dict:
        if not options["target"]:
            raise bad("--target", "--kubernetes needs --target URL: the Service, Ingress or Gateway address to load")
        if not options["namespace"]:
            raise bad("--namespace", "--kubernetes needs --namespace")
        if retries is not None:
            raise bad("--retries" if options["retries"] is not None else "--no-retries",
                      "only the sandbox's balancer has retries LB Lab can set")
        url = options["target"].rstrip("/")
        # `app=web` names the Service `web` unless --service says otherwise.
        first = options["selector"].split(",")[0]
        service = options["service"] or (first.split("=")[-1].strip() if "=" in first else "") or options["namespace"]
        fields = {"kind": "kubernetes", "context": options["context"], "namespace": options["namespace"],
                  "label_selector": options["selector"], "service": service, "base_url": url,
                  "pod_header": options["pod_header"],
                  "kubernetes_balancer": options["balancer"] or DEFAULT_KUBERNETES_BALANCER, "route": options["route"],
                  "traffic_distribution": options["traffic_distribution"], "slow_start_s": 0.0}
        if options["slow_start"] is not None:
            try:
                fields["slow_start_s"] = parse_duration(options["slow_start"])
            except SpecError as error:
                raise bad("--slow-start", str(error)) from error
        if fields["kubernetes_balancer"] not in KUBERNETES_BALANCERS:
            raise bad("--balancer", f"unknown balancer {fields['kubernetes_balancer']!r} in front of Kubernetes pods; "
                                    f"one of {', '.join(KUBERNETES_BALANCERS)}")
        try:  # the balancer's options, each one a setting of this balancer: before anything starts
            fields["traffic_distribution"] = check_traffic_distribution(fields["traffic_distribution"])
            target_kind("kubernetes").check_spec(Target(**fields).spec())
        except ClusterError as error:
            field = error.field or "balancer"
            raise bad(_TARGET_FLAGS.get(field, f"--{field.replace('_', '-')}"), error.args[0]) from error
        try:
            services.validate_target_allowed(Target(**fields))
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise bad(_TARGET_FLAGS.get(field, f"--{field.replace('_', '-')}"), messages[0]) from error
        self._check_reachable(url)
        return fields

    def _expected_pods(self, value) -> tuple[list[str], int | None]:
        if not value:
            return [], None
        if value.isdigit():
            if int(value) < 1:
                raise bad("--expect-pods", "must be at least 1")
            return [], int(value)
        names = [name.strip() for name in value.split(",") if name.strip()]
        return names, len(names)

    def _check_reachable(self, url: str) -> None:
        """Allow-listed (the same check as every target) and accepting connections now."""
        try:
            services.validate_target_allowed(Target(kind="url", base_url=url))
        except ValidationError as error:
            raise bad("--target", error.message_dict["base_url"][0]) from error
        host, port = check_url(url, field="--target")
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as error:
            raise bad("--target", f"cannot connect to {host}:{port}: {error.strerror or error}") from error

    def _writable_path(self, flag: str, value) -> Path | None:
        """The file a flag names, checked writable now, before any load is sent: a run must not be
        lost to a path found wrong only at its end. Nothing is left behind by the check."""
        if not value:
            return None
        path = Path(value)
        if path.is_dir():
            raise bad(flag, f"is a directory: {path}")
        if not path.parent.is_dir():
            raise bad(flag, f"no such directory: {path.parent}")
        try:
            if path.exists():
                with open(path, "a"):  # opened for appending, not written: the contents stay
                    pass
            else:
                with open(path, "x"):
                    pass
                path.unlink()
        except OSError as error:
            raise bad(flag, f"cannot write {path}: {error.strerror or error}") from error
        return path

    def _json_path(self, value) -> Path | None:
        if not value:
            return None
        path = Path(value)
        if not path.parent.is_dir():
            raise bad("--json", f"no such directory: {path.parent}")
        return path


def run_junit_xml(run: LoadTestRun) -> str:
    """The finished run as JUnit XML (metrics_app.reports.junit_xml), judged as its verdict was."""
    scenario = run.scenario_spec
    summary = {"status": run.status, **(run.summary if isinstance(run.summary, dict) else {})}
    return junit_xml(summary, run_name=run.name or f"run {run.pk}", passed=run.verdict_passed,
                     reasons=list(run.verdict_reasons or []),
                     thresholds={"error_rate": scenario.threshold_error_rate, "p95_ms": scenario.threshold_p95_ms})


# Where a field of the run request comes from on the command line, when not `--<field>`.
_SCENARIO_FLAGS = {"threshold_balance": "--threshold", "duration_s": "--duration"}
_RUN_FLAGS = {"user_classes": "--user-class"}
_TARGET_FLAGS = {"base_url": "--target", "expected_pods": "--expect-pods", "expected_pod_count": "--expect-pods",
                 "label_selector": "--selector", "slow_start_s": "--slow-start"}


def _flag_and_reason(errors: dict) -> tuple[str, str]:
    """The first problem of a rejected run request, as the flag that caused it and why."""
    field, problems = next(iter(errors.items()))
    if isinstance(problems, dict):
        inner, messages = next(iter(problems.items()))
        flags = _SCENARIO_FLAGS if field == "scenario" else _TARGET_FLAGS
        return flags.get(inner, f"--{inner.replace('_', '-')}"), messages[0]
    return _RUN_FLAGS.get(field, f"--{field.replace('_', '-')}"), problems[0]
