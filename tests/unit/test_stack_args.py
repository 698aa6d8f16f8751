"""Generated command-line arguments of the local stack can never be read as flags."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from deploy import stack
from deploy.topics import topic_config
from shared.contracts.topics import MAX_RECORD_BYTES, TOPICS


def test_cluster_id_never_starts_with_a_dash() -> None:
    # A first byte of 0xF8..0xFB encodes as "-" in URL-safe base64: drawn again.
    draws = iter([bytes([0xF8]) + bytes(15), bytes([0xFB]) * 16, bytes([0x04]) + bytes(15)])
    assert stack.random_cluster_id(lambda: next(draws)) == "BAAAAAAAAAAAAAAAAAAAAA"
    ids = [stack.random_cluster_id() for _ in range(5000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_every_value_of_the_format_command_is_attached_to_its_option() -> None:
    args = stack.storage_format_args("-startsWithDash_ABCDE", Path("/tmp/s.properties"), "4.1-IV1")
    assert args == [
        "format",
        "--cluster-id=-startsWithDash_ABCDE",
        "--config=/tmp/s.properties",
        "--release-version=4.1-IV1",
    ]
    assert stack.storage_format_args("abc", Path("/c"))[1:] == ["--cluster-id=abc", "--config=/c"]
    # Nothing but the subcommand stands alone, so no value can be taken for a flag.
    for cluster_id in ("-t", "--help", "", "-"):
        for arg in stack.storage_format_args(cluster_id, Path("/c"))[1:]:
            assert arg.startswith("--") and "=" in arg


@pytest.mark.parametrize(
    ("name", "value"),
    [("--cluster-id", "a\nb"), ("--cluster-id", "a\x00"), ("-t", "x"), ("cluster-id", "x")],
)
def test_options_refuse_what_no_command_line_can_carry(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        stack.option(name, value)


def test_a_failed_format_says_why_in_the_tools_own_words() -> None:
    message = stack.storage_failure(
        ["java", "kafka.tools.StorageTool", "format", "--cluster-id=x"],
        1,
        "usage: kafka-storage format ...",
        "kafka-storage: error: argument --cluster-id/-t: expected one argument",
    )
    assert message.startswith("kafka storage format failed (1): ")
    assert "expected one argument" in message.splitlines()[1]
    assert "usage: kafka-storage" in message
    assert "(no output)" in stack.storage_failure(["java"], 2, "", " ")


def test_broker_and_topics_take_the_largest_record() -> None:
    props = stack.server_properties(19092, 19093, Path("/tmp/data"))
    assert f"message.max.bytes={MAX_RECORD_BYTES}\n" in props
    assert f"replica.fetch.max.bytes={MAX_RECORD_BYTES}\n" in props
    for spec in TOPICS:
        config = topic_config(spec)
        assert config["max.message.bytes"] == str(MAX_RECORD_BYTES)
        assert dict(itertools.islice(config.items(), len(spec.config))) == spec.config
