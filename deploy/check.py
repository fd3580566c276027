#!/usr/bin/env python3
"""check.py - lints deploy/compose.yaml offline (no Docker here): parses it and checks that it is honest.

Checks: every service has a health check; three brokers with distinct node ids, each in the controller
quorum and advertising its own host name; replication factor 3 and min.insync.replicas 2 on the brokers
and in stockd's configuration, the same on both sides; the broker image is the Kafka version scripts/kafka
tests against; every STOCKD_* variable is one that `stockd --help` lists; instance ids, host ports and
volumes distinct per instance; every volume declared; depends_on names services with health checks.
Usage: check.py STOCKD_BINARY (for --help). Needs PyYAML (the venv of scripts/pytools has it).
"""

import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("check.py: PyYAML missing: run with the python of scripts/pytools' venv")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
problems = []


def expect(condition, message):
    if not condition:
        problems.append(message)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check.py STOCKD_BINARY")
    with open(os.path.join(ROOT, "deploy", "compose.yaml")) as file:
        compose = yaml.safe_load(file)
    help_text = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True, timeout=30).stdout
    known = set(re.findall(r"STOCKD_[A-Z0-9_]+", help_text))
    with open(os.path.join(ROOT, "scripts", "kafka")) as file:
        kafka_version = re.search(r"^readonly KAFKA_VERSION=(\S+)", file.read(), re.M).group(1)

    services = compose.get("services", {})
    brokers = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka")}
    stockds = {n: s for n, s in services.items() if "STOCKD_INSTANCE_ID" in (s.get("environment") or {})}
    expect(len(brokers) == 3, f"3 brokers expected, found {sorted(brokers)}")
    expect(len(stockds) == 3, f"3 stockd instances expected, found {sorted(stockds)}")
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        expect(bool(test), f"{name}: no health check")
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            expect(source in (compose.get("volumes") or {}), f"{name}: volume {source} not declared")
        for needed in service.get("depends_on", {}):
            expect(needed in services and services[needed].get("healthcheck"),
                   f"{name}: depends on {needed}, which is not a service with a health check")

    node_ids = set()
    for name, service in brokers.items():
        environment = service["environment"]
        expect(service["image"] == f"apache/kafka:{kafka_version}",
               f"{name}: image {service['image']}, scripts/kafka tests against {kafka_version}")
        node_id = environment.get("KAFKA_NODE_ID")
        node_ids.add(node_id)
        expect(f"{node_id}@{name}:" in environment.get("KAFKA_CONTROLLER_QUORUM_VOTERS", ""),
               f"{name}: node {node_id} is not in the controller quorum as {name}")
        expect(environment.get("KAFKA_ADVERTISED_LISTENERS") == f"PLAINTEXT://{name}:9092",
               f"{name}: advertises {environment.get('KAFKA_ADVERTISED_LISTENERS')}")
        for key, value in (("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"), ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
                           ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
                           ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
                           ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"),
                           ("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false")):
            expect(str(environment.get(key)) == value, f"{name}: {key} is {environment.get(key)}, want {value}")
    expect(len(node_ids) == len(brokers), f"broker node ids are not distinct: {node_ids}")

    seen = {"instance": set(), "port": set(), "volume": set()}
    for name, service in stockds.items():
        environment = service["environment"]
        for key in environment:
            expect(key in known, f"{name}: {key} is not a variable stockd reads (stockd --help)")
        bootstrap = environment.get("STOCKD_KAFKA_BOOTSTRAP", "").split(",")
        expect(sorted(h.split(":")[0] for h in bootstrap) == sorted(brokers),
               f"{name}: bootstrap {bootstrap} is not the three brokers")
        expect(environment.get("STOCKD_KAFKA_REPLICATION_FACTOR") == "3", f"{name}: replication factor not 3")
        expect(environment.get("STOCKD_KAFKA_MIN_INSYNC_REPLICAS") == "2", f"{name}: min ISR not 2")
        for kind, value in (("instance", environment.get("STOCKD_INSTANCE_ID")),
                            ("port", tuple(service.get("ports", []))), ("volume", tuple(service.get("volumes", [])))):
            expect(value not in seen[kind], f"{name}: {kind} {value} shared with another instance")
            seen[kind].add(value)
        expect(any(str(v).endswith(":/var/lib/stockd") for v in service.get("volumes", [])),
               f"{name}: no volume on its data_dir /var/lib/stockd")

    for problem in problems:
        print(f"deploy/compose.yaml: {problem}")
    print(f"check.py: {len(services)} services, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
