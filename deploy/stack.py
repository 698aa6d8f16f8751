"""Local Kafka (KRaft, single node) and PostgreSQL servers for tests and development.

Stdlib only, so that it runs before any virtualenv exists; the one step that needs a Kafka
client (creating topics) lives in ``deploy.topics`` and is imported lazily.

    python -m deploy.stack up [--secure] | down | status

``up --secure`` (or ``RX_KAFKA_SECURE=1``) starts the broker with SASL/SCRAM-SHA-512 users and
per-service ACLs (``SERVICE_ACLS``; deploy/README.md says which principal may do what), and
writes the users' passwords to ``<run-dir>/kafka/users.json`` (mode 0600).

The broker is ``kafka.Kafka`` from the jars that ``deploy/install.sh`` resolves into
``deploy/kafka/libs``; PostgreSQL is Debian's server binaries, run as the ``postgres`` OS user
when we are root because initdb and postgres refuse to run as root.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.contracts.topics import (  # stdlib only, like this module
    DOMAIN_EVENTS,
    DOMAIN_EVENTS_DLQ,
    MAX_RECORD_BYTES,
    ROGER_CATEGORIES,
    ROGER_CATEGORIES_DLQ,
    ROGER_EVENTS,
    ROGER_EVENTS_DLQ,
    ROGER_SYNC_BACK,
    ROGER_SYNC_BACK_DLQ,
    ROGER_SYNC_STATUS,
    XERO_COMMANDS,
    XERO_COMMANDS_DLQ,
    XERO_NOTIFICATIONS,
    XERO_NOTIFICATIONS_DLQ,
    XERO_RESULTS,
    XERO_RESULTS_DLQ,
)

REPO = Path(__file__).resolve().parent.parent
KAFKA_HOME = REPO / "deploy" / "kafka"
KAFKA_LIBS = KAFKA_HOME / "libs"
KAFKA_LOG4J = KAFKA_HOME / "log4j2.properties"
DEFAULT_RUN_DIR = REPO / ".run"
DEFAULT_KAFKA_PORT = 19092
DEFAULT_PG_PORT = 15432

KAFKA_START_TIMEOUT_S = 120.0
PG_START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30.0
POLL_S = 0.1

# Kafka's default release for a new cluster (empty = the binary's latest). Kept as a knob because
# the notes suggested 3.9-IV0 if aiokafka's transactions misbehave on transaction.version 2.
KAFKA_RELEASE_VERSION = os.environ.get("RX_KAFKA_RELEASE_VERSION", "")

# Everything a test broker needs that differs from Kafka's defaults. Single replica everywhere;
# one partition for the internal topics because creating 50 of them makes the first group join
# and the first transaction take seconds; no rebalance delay because tests join groups often;
# no auto-created topics so a typo in a topic name fails loudly instead of creating it.
BROKER_SETTINGS: dict[str, str] = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "inter.broker.listener.name": "PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "auto.create.topics.enable": "false",
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # 2 cores: Kafka's defaults (3 network, 8 io threads) only add contention.
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.retention.check.interval.ms": "300000",
    # The contract's largest document must pass every hop (shared.contracts.topics).
    "message.max.bytes": str(MAX_RECORD_BYTES),
    "replica.fetch.max.bytes": str(MAX_RECORD_BYTES),
}

# C1 only (TieredStopAtLevel=1): a test broker lives for minutes, so C2's peak speed never pays
# back the CPU it burns at start-up on 2 cores; measured 3.9 s -> 2.6 s to ready, ~50 MiB less RSS.
JVM_FLAGS = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]


class StackError(RuntimeError):
    """A server could not be started or stopped; the message carries its log tail."""


class _PortTaken(StackError):
    """The broker lost the race for a port we probed as free."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    # Bind-and-release leaves a small race; start_kafka retries on a bind failure to cover it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent has not reaped it yet.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wait_until(check: Callable[[], bool], deadline: float) -> bool:
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def terminate(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM (Kafka's shutdown hook runs on it), then SIGKILL once the deadline passes."""

    def gone() -> bool:
        return proc.poll() is not None if proc is not None else not pid_alive(pid)

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if gone():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if wait_until(gone, time.monotonic() + timeout):
            return
    raise StackError(f"process {pid} survived SIGKILL")


def _die_with_parent() -> None:
    # Last resort when the test runner is SIGKILLed and never reaches its finalizers: the
    # kernel sends SIGTERM to the broker once its parent is gone (PR_SET_PDEATHSIG = 1).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


# --------------------------------------------------------------------------- Kafka


@dataclass
class Kafka:
    pid: int
    port: int
    controller_port: int
    run_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        terminate(self.pid, self.proc, timeout)
        (self.run_dir / "kafka.pid").unlink(missing_ok=True)


def java_binary() -> str:
    for candidate in (os.environ.get("RX_JAVA"), _java_home_binary(), shutil.which("java")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StackError("no java found: install OpenJDK 17 or set RX_JAVA / JAVA_HOME")


def _java_home_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else None


def kafka_classpath() -> str:
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise StackError(f"no broker jars in {KAFKA_LIBS}: run `make install` (deploy/install.sh)")
    # Quoted wildcard: java expands it, so the command line stays short.
    return f"{KAFKA_LIBS}/*"


def random_cluster_id(draw: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A fresh cluster id: a URL-safe base64 UUID without padding, never starting with ``-``.

    Same shape as ``kafka-storage random-uuid``; like Kafka's own ``Uuid.randomUuid()`` it draws
    again when the text starts with ``-``, which a command line takes for a flag (1 draw in 64:
    a first byte of 0xF8..0xFB). ``draw`` returns 16 random bytes (a test passes its own).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(draw()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def option(name: str, value: str) -> str:
    """``--name=value`` as one argument, so no value (``-x...``, empty) is read as a flag.

    Raises ``ValueError`` for a value no command line can carry (NUL) or that would span
    lines in a log (newline), and for a name that is not a long option.
    """
    if not re.fullmatch(r"--[a-z][a-z0-9-]*", name):
        raise ValueError(f"not a long option name: {name!r}")
    if any(c in value for c in "\0\n\r"):
        raise ValueError(f"{name} value holds NUL or a line break: {value!r}")
    return f"{name}={value}"


def storage_format_args(cluster_id: str, config: Path, release_version: str = "") -> list[str]:
    """Arguments of ``kafka-storage format``: every value attached to its option."""
    args = ["format", option("--cluster-id", cluster_id), option("--config", str(config))]
    return args + ([option("--release-version", release_version)] if release_version else [])


def server_properties(
    port: int, controller_port: int, data_dir: Path, users: KafkaUsers | None = None
) -> str:
    """The broker's ``server.properties``; with ``users``, secured (``secure_settings``)."""
    settings = {
        **BROKER_SETTINGS,
        # Static voters: format needs no --standalone and we get kraft.version 0, which is all
        # a throwaway single node needs.
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "log.dirs": str(data_dir),
    }
    if users is not None:
        settings |= secure_settings(port, controller_port, users)
    return "".join(f"{key}={value}\n" for key, value in settings.items())


# --------------------------------------------------------------------------- secured broker

SCRAM = "SCRAM-SHA-512"
ADMIN_USER = "rx-admin"  # the broker itself (inter-broker, controller) and the operator's tools

# principal -> what it may do. Topics it writes (produce, idempotent), topics it reads, and the
# consumer-group prefix it reads under (the group suffix of test runs and rebuilds follows it).
# Anything not listed is refused (allow.everyone.if.no.acl.found=false); deploy/README.md.
SERVICE_ACLS: dict[str, dict[str, tuple[str, ...]]] = {
    # Roger's events in; the connect flow (same process) publishes connection facts and the
    # chart of accounts through its outbox and reads results for "last sync"; xero_inbound
    # (same process) puts Xero's webhooks on a topic and announces changes to Roger.
    "rx-ingest": {
        "write": (
            DOMAIN_EVENTS,
            ROGER_EVENTS_DLQ,
            ROGER_CATEGORIES,
            XERO_RESULTS_DLQ,
            DOMAIN_EVENTS_DLQ,
            ROGER_CATEGORIES_DLQ,
            XERO_NOTIFICATIONS,
            XERO_NOTIFICATIONS_DLQ,
            ROGER_SYNC_BACK,
            # The outbox relay of the connect flow: reconnects (token store), spent budgets
            # (the writer) and any status row the shared outbox holds.
            ROGER_SYNC_STATUS,
        ),
        "read": (ROGER_EVENTS, XERO_RESULTS, XERO_NOTIFICATIONS),
        "groups": ("rx-ingest", "rx-xero-inbound"),
    },
    # Decides commands (outbox) and retry facts; reads facts and Xero's answers.
    "rx-projector": {
        "write": (
            XERO_COMMANDS,
            DOMAIN_EVENTS,
            DOMAIN_EVENTS_DLQ,
            XERO_RESULTS_DLQ,
            XERO_COMMANDS_DLQ,
            ROGER_SYNC_BACK_DLQ,
            # Its outbox relay: documents that failed (and any status row the outbox holds).
            ROGER_SYNC_STATUS,
        ),
        # roger.sync-back: what changed in Xero, shown on the documents.
        "read": (DOMAIN_EVENTS, XERO_RESULTS, ROGER_SYNC_BACK),
        "groups": ("rx-projector",),
    },
    # The only principal that reads commands; answers with results, parks in the commands' DLQ.
    "rx-writer": {
        "write": (XERO_RESULTS, XERO_COMMANDS_DLQ),
        "read": (XERO_COMMANDS,),
        "groups": ("rx-writer",),
    },
}


@dataclass(frozen=True)
class KafkaUsers:
    """SCRAM users of a secured broker: ``ADMIN_USER`` and one per ``SERVICE_ACLS`` entry."""

    passwords: dict[str, str]

    @classmethod
    def generate(cls) -> KafkaUsers:
        names = [ADMIN_USER, *SERVICE_ACLS]
        return cls({name: secrets.token_urlsafe(24) for name in names})

    @property
    def admin_password(self) -> str:
        return self.passwords[ADMIN_USER]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(self.passwords, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> KafkaUsers | None:
        return cls(json.loads(path.read_text())) if path.exists() else None


def _jaas(module: str, user: str, password: str, *extra: str) -> str:
    parts = [f'username="{user}"', f'password="{password}"', *extra]
    return f"org.apache.kafka.common.security.{module} required {' '.join(parts)};"


def secure_settings(port: int, controller_port: int, users: KafkaUsers) -> dict[str, str]:
    """Broker settings for SASL/SCRAM-SHA-512 clients and ACLs (KRaft's StandardAuthorizer).

    Clients and the broker itself authenticate with SCRAM (credentials stored in the metadata
    log at format time, ``scram_format_args``); the controller listener uses PLAIN with the
    admin user, because KRaft controllers cannot check SCRAM. Only ``ADMIN_USER`` is a super
    user; nobody else may do anything an ACL does not allow. Plain text on 127.0.0.1 here; a
    deployment across machines uses SASL_SSL (clients: ``RX_KAFKA_SECURITY_PROTOCOL``).
    """
    admin = users.admin_password
    return {
        "listeners": (
            f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
        ),
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": SCRAM,
        "sasl.mechanism.inter.broker.protocol": SCRAM,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": _jaas(
            "scram.ScramLoginModule", ADMIN_USER, admin
        ),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas(
            "plain.PlainLoginModule", ADMIN_USER, admin, f'user_{ADMIN_USER}="{admin}"'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found": "false",
    }


def scram_format_args(users: KafkaUsers) -> list[str]:
    """``kafka-storage format`` arguments that store every user's SCRAM credential."""
    return [
        option("--add-scram", f"{SCRAM}=[name={name},password={password}]")
        for name, password in users.passwords.items()
    ]


def acl_lines(acls: dict[str, dict[str, tuple[str, ...]]] = SERVICE_ACLS) -> list[str]:
    """``principal operation resource-type name pattern-type`` for every ACL to create."""
    lines = []
    for user, grants in acls.items():
        principal = f"User:{user}"
        for topic in grants.get("write", ()):
            lines += [f"{principal} WRITE TOPIC {topic} LITERAL"]
            lines += [f"{principal} DESCRIBE TOPIC {topic} LITERAL"]
        for topic in grants.get("read", ()):
            lines += [f"{principal} READ TOPIC {topic} LITERAL"]
            lines += [f"{principal} DESCRIBE TOPIC {topic} LITERAL"]
        for group in grants.get("groups", ()):
            lines += [f"{principal} READ GROUP {group} PREFIXED"]
    return lines


# Creates the ACLs read from stdin through Kafka's Admin API (kafka-clients, on the broker's
# classpath; the jars hold no kafka-acls tool). Run by java's source launcher: no build step.
ACLS_JAVA = r"""
import java.io.*;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", "SCRAM-SHA-512");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule "
            + "required username=\"" + args[1] + "\" password=\""
            + System.getenv("RX_KAFKA_ADMIN_PASSWORD") + "\";");
        List<AclBinding> acls = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split("\\s+");
            if (f.length != 5) continue;
            acls.add(new AclBinding(
                new ResourcePattern(ResourceType.valueOf(f[2]), f[3], PatternType.valueOf(f[4])),
                new AccessControlEntry(f[0], "*", AclOperation.valueOf(f[1]),
                    AclPermissionType.ALLOW)));
        }
        try (Admin admin = Admin.create(p)) {
            admin.createAcls(acls).all().get();
        }
        System.out.println("acls: " + acls.size());
    }
}
"""


def apply_acls(kafka: Kafka, users: KafkaUsers, timeout: float = 120) -> int:
    """Creates ``SERVICE_ACLS`` on a secured broker (as ``ADMIN_USER``); returns how many.

    Raises ``StackError`` with the tool's output when Kafka refuses.
    """
    source = kafka.run_dir / "CreateAcls.java"
    source.write_text(ACLS_JAVA)
    lines = acl_lines()
    cmd = java_command(
        ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"],
        str(source),
        kafka.bootstrap,
        ADMIN_USER,
    )
    done = subprocess.run(
        cmd,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env={**os.environ, "RX_KAFKA_ADMIN_PASSWORD": users.admin_password},
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr + done.stdout).splitlines()[-30:])
        raise StackError(f"creating ACLs failed ({done.returncode}):\n{tail}")
    return len(lines)


def client_security(user: str, password: str) -> dict[str, str]:
    """``KafkaSettings`` fields of a client of a secured local broker (as environment
    variables: ``RX_`` + the name in capitals, ``client_environment``)."""
    return {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": SCRAM,
        "kafka_sasl_username": user,
        "kafka_sasl_password": password,
    }


def client_environment(user: str, password: str) -> dict[str, str]:
    """``RX_KAFKA_*`` variables that make a service a client ``user`` of a secured broker."""
    return {f"RX_{k.upper()}": v for k, v in client_security(user, password).items()}


def java_command(jvm_flags: Sequence[str], main_class: str, *args: str) -> list[str]:
    logging = f"-Dlog4j2.configurationFile={KAFKA_LOG4J}"
    return [java_binary(), *jvm_flags, logging, "-cp", kafka_classpath(), main_class, *args]


def format_storage(
    config: Path, data_dir: Path, log_path: Path, users: KafkaUsers | None = None
) -> None:
    if (data_dir / "meta.properties").exists():
        return  # kept from an earlier `up`: the log must keep its cluster id
    args = storage_format_args(random_cluster_id(), config, KAFKA_RELEASE_VERSION)
    args += scram_format_args(users) if users is not None else []
    tool_flags = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    cmd = java_command(tool_flags, "kafka.tools.StorageTool", *args)
    done = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", check=False
    )
    with log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise StackError(storage_failure(cmd, done.returncode, done.stdout, done.stderr))


def storage_failure(cmd: Sequence[str], returncode: int, stdout: str, stderr: str) -> str:
    """Why ``kafka-storage format`` failed: its command and its own words (stderr first)."""
    said = "\n".join(part.strip() for part in (stderr, stdout) if part.strip()) or "(no output)"
    tail = "\n".join(said.splitlines()[-40:])
    return f"kafka storage format failed ({returncode}): {' '.join(cmd[-4:])}\n{tail}"


def _spawn_broker(config: Path, log_path: Path, detach: bool) -> subprocess.Popen[bytes]:
    flags = [*JVM_FLAGS, f"-Dkafka.logs.dir={config.parent / 'logs'}"]
    cmd = java_command(flags, "kafka.Kafka", str(config))
    with log_path.open("ab") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches the test runner, which then stops
            # the broker in order, instead of killing both mid-test.
            start_new_session=True,
            preexec_fn=None if detach else _die_with_parent,
        )


def start_kafka(
    run_dir: Path,
    port: int | None = None,
    *,
    controller_port: int | None = None,
    detach: bool = False,
    timeout: float = KAFKA_START_TIMEOUT_S,
    users: KafkaUsers | None = None,
) -> Kafka:
    """Format (unless already formatted) and start a single-node broker under ``run_dir``.

    Without ``port`` both listeners get fresh ports, retried if another process grabs one
    between our probe and the broker's bind. ``detach`` lets the broker outlive this process.
    ``users``: a secured broker (SCRAM users, ACLs enforced; ``apply_acls`` grants them).
    """
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        bport = port if port is not None else free_port()
        cport = controller_port or (bport + 1 if port is not None else free_port())
        try:
            return _start_kafka_once(run_dir, bport, cport, detach, timeout, users)
        except _PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_kafka_once(
    run_dir: Path,
    port: int,
    controller_port: int,
    detach: bool,
    timeout: float,
    users: KafkaUsers | None = None,
) -> Kafka:
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = run_dir / "data"
    config = run_dir / "server.properties"
    log_path = run_dir / "broker.log"
    config.write_text(server_properties(port, controller_port, data_dir, users))
    if users is not None:
        config.chmod(0o600)  # it holds the admin's password
    format_storage(config, data_dir, log_path, users)
    log_offset = log_path.stat().st_size
    proc = _spawn_broker(config, log_path, detach)
    kafka = Kafka(proc.pid, port, controller_port, run_dir, log_path, proc)
    (run_dir / "kafka.pid").write_text(f"{proc.pid}\n")
    try:
        _await_broker(kafka, proc, log_offset, time.monotonic() + timeout, users is not None)
    except BaseException:
        kafka.stop()
        raise
    return kafka


def _await_broker(
    kafka: Kafka, proc: subprocess.Popen[bytes], offset: int, deadline: float, secure: bool = False
) -> None:
    def ready() -> bool:
        if not secure:
            return broker_ready(kafka.port)
        # The unauthenticated probe is refused by a secured broker: its own word instead.
        said = kafka.log_path.read_bytes()[offset:].decode("utf-8", "replace")
        return "Kafka Server started" in said and port_in_use(kafka.port)

    while not ready():
        if proc.poll() is not None:
            new_log = kafka.log_path.read_bytes()[offset:].decode(errors="replace")
            kind = _PortTaken if "Address already in use" in new_log else StackError
            raise kind(f"kafka exited with {proc.returncode}:\n{log_tail(kafka.log_path)}")
        if time.monotonic() >= deadline:
            raise StackError(f"kafka not ready after its deadline:\n{log_tail(kafka.log_path)}")
        time.sleep(POLL_S)


def broker_ready(port: int) -> bool:
    """True once the broker answers a Metadata request listing itself as a live broker.

    An open port alone is not enough: this proves the request path works and that the broker
    is registered with (and unfenced by) its controller.
    """
    try:
        brokers, controller_id = metadata_probe("127.0.0.1", port)
    except (OSError, struct.error, ValueError):
        return False
    return brokers > 0 and controller_id >= 0


def metadata_probe(host: str, port: int, timeout: float = 2.0) -> tuple[int, int]:
    """Send Metadata v1 for no topics; return (live broker count, controller id)."""
    client_id = b"rx-stack"
    # Request header v1 (api_key 3, version 1, correlation id, client id) + empty topic array.
    body = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        payload = _recv_exact(sock, size)
    return _parse_metadata_v1(payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ValueError("connection closed mid-response")
        chunks += chunk
    return bytes(chunks)


def _parse_metadata_v1(payload: bytes) -> tuple[int, int]:
    pos = 4  # correlation id
    (count,) = struct.unpack_from(">i", payload, pos)
    pos += 4
    for _ in range(count):
        pos += 4  # node id
        (host_len,) = struct.unpack_from(">h", payload, pos)
        pos += 2 + host_len + 4  # host, port
        (rack_len,) = struct.unpack_from(">h", payload, pos)
        pos += 2 + max(rack_len, 0)
    (controller_id,) = struct.unpack_from(">i", payload, pos)
    return count, controller_id


def running_kafka(run_dir: Path) -> Kafka | None:
    """The broker a detached ``start_kafka`` left under ``run_dir``, if it still runs."""
    pid = _read_pid(run_dir / "kafka.pid")
    config = run_dir / "server.properties"
    if pid is None or not pid_alive(pid) or str(config) not in cmdline(pid):
        return None
    props = dict(line.split("=", 1) for line in config.read_text().splitlines() if "=" in line)
    ports = [int(p) for p in re.findall(r":(\d+)", props.get("listeners", ""))]
    return Kafka(pid, ports[0], ports[1], run_dir, run_dir / "broker.log")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- PostgreSQL

PG_SUPERUSER = "postgres"
PG_OS_USER = "postgres"
PG_MAINTENANCE_DB = "postgres"

# Durability is pointless for throwaway test and dev data (.run/ can always be deleted) and
# costs seconds per test run.
PG_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
}


@dataclass
class Postgres:
    port: int
    run_dir: Path
    bindir: Path

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.run_dir

    @property
    def log_path(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def dsn(self) -> str:
        return self.dsn_for(PG_MAINTENANCE_DB)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        client = [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        _run([*client, "-U", PG_SUPERUSER, name], as_pg_user=False)
        return self.dsn_for(name)

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args], check=False)

    def is_running(self) -> bool:
        return self.pg_ctl("status").returncode == 0

    def stop(self, timeout: int = int(STOP_TIMEOUT_S)) -> None:
        # "fast" rolls back open sessions instead of waiting for clients to hang up.
        done = self.pg_ctl("stop", "-m", "fast", "-w", "-t", str(timeout))
        if done.returncode != 0 and self.is_running():
            self.pg_ctl("stop", "-m", "immediate", "-w", "-t", str(timeout))
            if self.is_running():
                raise StackError(f"postgres did not stop:\n{done.stdout}{done.stderr}")


def pg_bindir() -> Path:
    env = os.environ.get("RX_PG_BINDIR")
    candidates = [Path(env)] if env else []

    def major(path: Path) -> int:
        return int(path.parent.name) if path.parent.name.isdigit() else 0

    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    candidates += debian
    on_path = shutil.which("initdb")
    candidates += [Path(on_path).parent] if on_path else []
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise StackError("no PostgreSQL server binaries (initdb, pg_ctl): run `make install`")


def _as_root() -> bool:
    return os.geteuid() == 0


def _run(
    cmd: Sequence[str], *, as_pg_user: bool = True, check: bool = True
) -> subprocess.CompletedProcess[str]:
    if as_pg_user and _as_root():
        # initdb and postgres refuse to run as root; runuser needs no password or tty.
        cmd = ["runuser", "-u", PG_OS_USER, "--", *cmd]
    done = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise StackError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def _prepare_pg_dir(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if not _as_root():
        return
    try:
        user = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        raise StackError(f"running as root needs the {PG_OS_USER!r} OS user") from None
    os.chown(run_dir, user.pw_uid, user.pw_gid)
    if _run(["test", "-w", str(run_dir)], check=False).returncode != 0:
        raise StackError(
            f"user {PG_OS_USER!r} cannot reach {run_dir}: a parent directory is private "
            "to root; pick a run dir under a world-traversable path such as /tmp"
        )


def start_postgres(
    run_dir: Path, port: int | None = None, *, timeout: int = PG_START_TIMEOUT_S
) -> Postgres:
    """initdb (unless done) and start a server on 127.0.0.1 with its socket inside ``run_dir``.

    Without ``port`` it gets a fresh one, retried if another process takes it first.
    """
    bindir = pg_bindir()
    # Unix socket paths are limited to 107 bytes; fail with a reason rather than a cryptic log.
    if len(str(run_dir / ".s.PGSQL.65535")) > 100:
        raise StackError(f"run dir too deep for a unix socket path: {run_dir}")
    _prepare_pg_dir(run_dir)
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        pg = Postgres(port or free_port(), run_dir, bindir)
        try:
            return _start_postgres_once(pg, timeout)
        except _PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_postgres_once(pg: Postgres, timeout: int) -> Postgres:
    if not (pg.data_dir / "PG_VERSION").exists():
        _initdb(pg)
    _write_settings(pg)
    log_offset = pg.log_path.stat().st_size if pg.log_path.exists() else 0
    started = pg.pg_ctl("start", "-w", "-t", str(timeout), "-l", str(pg.log_path))
    if started.returncode == 0:
        return pg
    with contextlib.suppress(StackError):
        pg.stop()
    new_log = pg.log_path.read_bytes()[log_offset:].decode(errors="replace")
    kind = _PortTaken if "could not bind" in new_log else StackError
    raise kind(f"postgres did not start:\n{started.stderr}\n{log_tail(pg.log_path)}")


def _initdb(pg: Postgres) -> None:
    # Trust on loopback and the private socket: a test server with nothing worth guarding.
    options = ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]
    _run([str(pg.bindir / "initdb"), "-D", str(pg.data_dir), "-U", PG_SUPERUSER, *options])


def _write_settings(pg: Postgres) -> None:
    # postgresql.auto.conf overrides postgresql.conf; we rewrite it before every start, so a
    # restart under another port needs no edit of initdb's file (ALTER SYSTEM values are lost).
    settings = {
        **PG_SETTINGS,
        "port": str(pg.port),
        "unix_socket_directories": f"'{pg.socket_dir}'",
    }
    text = "".join(f"{key} = {value}\n" for key, value in settings.items())
    auto = pg.data_dir / "postgresql.auto.conf"
    auto.write_text(text)
    if _as_root():
        shutil.chown(auto, PG_OS_USER, PG_OS_USER)


def running_postgres(run_dir: Path) -> Postgres | None:
    data = run_dir / "data"
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        lines = pid_file.read_text().splitlines()
        pg = Postgres(int(lines[3]), run_dir, pg_bindir())
    except (OSError, ValueError, IndexError):
        return None
    return pg if pg.is_running() else None


# --------------------------------------------------------------------------- CLI


def _up(run_dir: Path, kafka_port: int, pg_port: int, secure: bool = False) -> None:
    kafka_dir, pg_dir = run_dir / "kafka", run_dir / "postgres"
    users_file = kafka_dir / "users.json"
    kafka = running_kafka(kafka_dir)
    users = KafkaUsers.load(users_file)
    # A broker formatted with users stays secured (its clients, deploy.apps, use users.json).
    secure = secure or users is not None
    if kafka:
        print(f"kafka already up (pid {kafka.pid})")
    else:
        _refuse_taken_port(kafka_port, "kafka")
        if secure and users is None:
            if (kafka_dir / "data" / "meta.properties").exists():
                raise StackError(f"{kafka_dir} holds an unsecured broker: `down`, remove it")
            users = KafkaUsers.generate()
            users.save(users_file)
        kafka = start_kafka(kafka_dir, kafka_port, detach=True, users=users if secure else None)
        print(f"kafka started (pid {kafka.pid})" + (", SASL/SCRAM with ACLs" if secure else ""))
        if secure and users is not None:
            print(f"acls: {apply_acls(kafka, users)} granted; users and passwords: {users_file}")
    pg = running_postgres(pg_dir)
    if pg:
        print("postgres already up")
    else:
        _refuse_taken_port(pg_port, "postgres")
        pg = start_postgres(pg_dir, pg_port)
        print("postgres started")
    from deploy.topics import ensure_topics  # needs aiokafka, i.e. the venv
    from shared.messaging.kafka import kafka_security  # the venv's, like deploy.topics
    from shared.settings import KafkaSettings

    fields = client_security(ADMIN_USER, users.admin_password) if secure and users else {}
    admin = kafka_security(KafkaSettings.model_validate(fields))
    created = ensure_topics(kafka.bootstrap, security=admin)
    print(f"topics: {len(created)} created" if created else "topics: all present")
    _print_urls(kafka, pg)


def _refuse_taken_port(port: int, what: str) -> None:
    if port_in_use(port):
        raise StackError(f"port {port} for {what} is taken by another process")


def _print_urls(kafka: Kafka, pg: Postgres) -> None:
    print(f"KAFKA_BOOTSTRAP={kafka.bootstrap}")
    print(f"PG_DSN={pg.dsn}")


def _down(run_dir: Path) -> None:
    kafka = running_kafka(run_dir / "kafka")
    if kafka:
        kafka.stop()
        print("kafka stopped")
    else:
        print("kafka not running")
    pg = running_postgres(run_dir / "postgres")
    if pg:
        pg.stop()
        print("postgres stopped")
    else:
        print("postgres not running")


def _status(run_dir: Path) -> int:
    kafka = running_kafka(run_dir / "kafka")
    pg = running_postgres(run_dir / "postgres")
    if kafka:
        ready = "ready" if broker_ready(kafka.port) else "NOT answering metadata"
        rss = rss_mib(kafka.pid) or 0
        print(f"kafka    up   pid {kafka.pid}  {kafka.bootstrap}  {ready}  rss {rss:.0f} MiB")
    else:
        print("kafka    down")
    print(f"postgres up   {pg.dsn}" if pg else "postgres down")
    return 0 if kafka and pg else 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    parser.add_argument("--kafka-port", type=int, default=DEFAULT_KAFKA_PORT)
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT)
    parser.add_argument(
        "--secure",
        action="store_true",
        default=os.environ.get("RX_KAFKA_SECURE", "") not in ("", "0"),
        help="SASL/SCRAM users and per-service ACLs (or RX_KAFKA_SECURE=1)",
    )
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    try:
        if args.command == "up":
            _up(run_dir, args.kafka_port, args.pg_port, args.secure)
        elif args.command == "down":
            _down(run_dir)
        else:
            return _status(run_dir)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
