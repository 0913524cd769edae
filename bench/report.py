#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the figures in bench/results/ (made by bench/run)."""
import json
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "bench", "results")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def load(name):
    p = os.path.join(RES, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f) if name.endswith(".json") else f.read()


def api_section(r):
    c, gp, gn = r["create"], r["get_pacer"], r["get_nginx"]
    m = r["machine"]
    ratio = r["get_ratio"] or 0
    lines = [
        "## API (issue #2)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_mib']} MiB, Linux {m['kernel']}. "
        "Server, load generator (wrk) and nginx share the machine's cores.",
        "",
        "| figure | result | goal |",
        "|---|---|---|",
        f"| create apps, 64 concurrent clients | {c['2xx']} created in {c['seconds']:.2f} s: "
        f"**{c['req_per_s']:.0f} apps/s**, non-2xx {c['requests'] - c['2xx']}, socket errors {c['errors']} | |",
        f"| create latency p50 / p99 / max | {c['p50_ms']:.2f} / {c['p99_ms']:.2f} / {c['max_ms']:.2f} ms | |",
        f"| store commits for those creates | {r['store_commits']} commits for {r['store_batches']} changes "
        f"({r['store_batches'] / max(r['store_commits'], 1):.1f} changes per fsync) | group commit |",
        f"| GET /v2/apps, {r['apps']} apps ({r['body_bytes'] / 1e6:.1f} MB), 8 connections | "
        f"Pacer {gp['req_per_s']:.1f} req/s (p99 {gp['p99_ms']:.1f} ms) | |",
        f"| nginx serving the same bytes from a file | {gn['req_per_s']:.1f} req/s (p99 {gn['p99_ms']:.1f} ms) | |",
        f"| ratio Pacer / nginx | **{ratio:.2f}** | >= 0.5 {'(met)' if ratio >= 0.5 else '(MISSED)'} |",
        f"| RSS after {r['apps']} apps | {r['rss_mib_after_10k']:.1f} MiB | |",
        f"| threads: at start / min / max during the run | {r['threads_start']} / {r['threads_min']} / "
        f"{r['threads_max']} | fixed |",
        "",
    ]
    return "\n".join(lines)


def main():
    parts = [
        "# Benchmarks",
        "",
        "Figures from the latest `make bench` (`bench/run`), written by `bench/report.py` from",
        "`bench/results/`; never typed in by hand. Reproduce with `make bench` on a 2-core machine,",
        "or one scenario with `bench/run api` / `bench/run store`.",
        "",
        f"Last written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
    ]
    api = load("api.json")
    if api:
        parts.append(api_section(api))
    store = load("store.txt")
    if store:
        parts += ["## Store alone (LMDB, group commit)", "", "```", store.strip(), "```", ""]
    with open(DOC, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
