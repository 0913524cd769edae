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
        "Server, load generator (`bench/loadgen`) and nginx share the machine's cores.",
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


SCALE = [("wall", "wall: 3,000 apps x 4 instances (Marathon's wall)"),
         ("x10", "x10: 10,000 apps x 10 instances on 1,000 simulated agents"),
         ("metrics", "metrics: scraping /metrics/prometheus every second during x10"),
         ("restart", "restart: kill -9 of the server at x10 steady state"),
         ("deployers", "deployers: 600 clients each changing their own app"),
         ("apps1m", "apps1m: 1,000,000 apps of one instance"),
         ("c2m", "c2m: 2,000,000 tasks on 100,000 agents"),
         ("simcost", "simcost: what a simulated agent costs (20,000 agents, 16 connections)")]


def scale_sections():
    """Issue #7's scenarios (bench/scale.py), each figure beside its goal."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("scale", os.path.join(ROOT, "bench", "scale.py"))
    scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale)
    out = []
    for name, title in SCALE:
        r = load(f"scale_{name}.json")
        if not r:
            continue
        m = r["machine"]
        out += [f"### {title}", "",
                f"Run {r['when']} on {m['cpu']}, {m['cores']} cores, {m['mem_mib']} MiB "
                f"(server, simulator and load generator share the cores).", "",
                "| figure | result | goal |", "|---|---|---|"]
        for label, (text, key, val) in scale.flat_figures(name, r):
            out.append(f"| {label} | {text} | {scale.goal_text(key, val)} |")
        srv = r.get("server")
        if srv and srv.get("threads_series"):
            series = " ".join(f"{t:.0f}s:{n}" for t, n in srv["threads_series"][:20])
            out.append(f"| server threads over time | {series} | constant |")
        out.append("")
    if out:
        out = ["## Scale (issue #7): simulated agents", "",
               "Reproduce with `bench/run wall` (or `x10`, which also measures `metrics` and `restart`; "
               "`deployers`, `apps1m`, `c2m`; `bench/run scale` runs them all). The agents are "
               "`pacer sim` processes speaking the agent protocol over multiplexed connections.", ""] + out
    return "\n".join(out)


def main():
    parts = [
        "# Benchmarks",
        "",
        "Figures from the latest `make bench` (`bench/run`), written by `bench/report.py` from",
        "`bench/results/`; never typed in by hand. Reproduce with `make bench` on a 2-core machine,",
        "or one scenario with `bench/run api` (or `agent`, `store`, `events`, `wall`, `x10`, ...).",
        "",
        f"Last written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
    ]
    api = load("api.json")
    if api:
        parts.append(api_section(api))
    ag = load("agent.json")
    if ag:
        ratio = ag["ratio"]
        parts += ["## Agent (issue #3)", "",
                  f"{ag['tasks']} `sleep` tasks through the whole path (API, placement, command stream, "
                  "agent, spawn, TASK_RUNNING applied by the server) on one real agent, beside a plain C "
                  "loop of posix_spawn of the same processes (`bench/agent_bench.py`).", "",
                  "| figure | result | goal |", "|---|---|---|",
                  f"| time until all TASK_RUNNING | {ag['seconds_to_all_running']} s | |",
                  f"| launches/s through Pacer | {ag['launches_per_s']} | |",
                  f"| plain posix_spawn loop | {ag['plain_spawn_per_s']}/s | |",
                  f"| ratio (median of 3 rounds; each round: {ag.get('ratios_all_rounds')}) | **{ratio}** | "
                  f">= 0.65 {'(met)' if ratio >= 0.65 else '(MISSED)'} |",
                  f"| agent RSS with {ag['tasks']} tasks | {ag['agent_rss_mib']} MiB | |",
                  f"| agent threads | {ag['agent_threads']} | fixed |", ""]
    store = load("store.txt")
    if store:
        parts += ["## Store alone (LMDB, group commit)", "", "```", store.strip(), "```", ""]
    ev = load("events.json")
    if ev:
        parts += ["## Events (issue #6)", "",
                  f"{ev['subscribers_filtered']} SSE subscribers filtered by app id and "
                  f"{ev['subscribers_unfiltered']} unfiltered; {ev['changes']} app changes "
                  f"({ev['changes_per_s']:.0f}/s, each committed, then one event), "
                  f"{ev['deliveries']} deliveries ({ev['deliveries_per_s']}/s). Lag: commit to "
                  "arrival, millisecond clock (`bench/events_bench.py`).", "",
                  "| figure | result | goal |", "|---|---|---|",
                  f"| lag p50 / p99 / max | {ev['lag_ms_p50']} / **{ev['lag_ms_p99']}** / "
                  f"{ev['lag_ms_max']} ms | p99 < 25 ms |",
                  f"| server CPU per delivery | {ev['server_cpu_us_per_delivery']} us | |",
                  f"| largest event | {ev['largest_event_bytes']} bytes | < 4096 |", ""]
    sc = scale_sections()
    if sc:
        parts.append(sc)
    with open(DOC, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
