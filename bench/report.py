"""Turns the measurements of bench/run into a markdown table, with the targets
the project set itself and whether this run met them."""

import json
import os
import platform
import sys
from datetime import datetime, timezone

results, opt_levels = sys.argv[1], sys.argv[2] == "true"


def load(name):
    with open(os.path.join(results, name)) as f:
        return f.read().strip()


def timing(id_):
    data = json.loads(load(f"{id_}.json"))["results"][0]
    return data["median"] * 1000, data["min"] * 1000, data["max"] * 1000


rows = []
for line in load("commands").splitlines():
    id_, job, label, _ = line.split("|", 3)
    median, low, high = timing(id_)
    rows.append(
        {
            "id": id_,
            "job": job,
            "label": label,
            "median": median,
            "min": low,
            "max": high,
            "mib": int(load(f"{id_}.kib")) / 1024,
            "requests": int(load(f"{id_}.requests") or 0),
        }
    )

ours = {r["job"]: r for r in rows if r["id"].startswith("ms-")}


def ms(value):
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


cpu = "unknown CPU"
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except (OSError, StopIteration):
    pass
size = int(load("size"))
def runs(id_):
    return len(json.loads(load(f"{id_}.json"))["results"][0]["times"])


musl = load("musl")
print(f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {platform.system()} {platform.machine()}, "
      f"{os.cpu_count()} cores ({cpu}), against a local moto endpoint; median of "
      f"{runs('ms-full')} runs ({runs('ms-cached')} for the commands that take a few milliseconds) "
      f"after 3 warm-up runs. \"mfa-session\" is the release binary as the release workflow "
      f"builds it for Linux ({musl}, statically linked); the \"cargo install build\" rows are "
      f"the same source built for the host's glibc, dynamically linked.")
print()
print("| command | median ms | min-max ms | vs mfa-session | peak memory | requests |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    base = ours.get(r["job"])
    if r is base or base is None:
        ratio = "1x"
    else:
        times = r["median"] / base["median"]
        if times < 1:
            ratio = f"{1 / times:.1f}x faster"
        else:
            ratio = f"{times:.1f}x slower" if times < 10 else f"{times:.0f}x slower"
    if r["id"].startswith("floor-"):
        ratio = "floor"
    print(f"| {r['label']} | {ms(r['median'])} | {ms(r['min'])}-{ms(r['max'])} | {ratio} | "
          f"{r['mib']:.1f} MiB | {r['requests']} |")
print()
gnu_size = int(load("gnu.size"))
print(f"Release binary: {size / 1e6:.2f} MB ({size} bytes); cargo install build: {gnu_size / 1e6:.2f} MB.")
print()

peers = [r for r in rows if not r["id"].startswith(("ms-", "floor-", "gnu-"))]
gnu = {r["job"]: r for r in rows if r["id"].startswith("gnu-")}
floor = {r["job"]: r for r in rows if r["id"].startswith("floor-")}
fastest_full = min((r for r in peers if r["job"] == "full"), key=lambda r: r["median"])
fastest_known = min((r for r in peers if r["job"] == "known"), key=lambda r: r["median"])
targets = [
    ("full flow at least 20x faster than the fastest peer",
     f"{fastest_full['median'] / ours['full']['median']:.0f}x ({fastest_full['label']})",
     fastest_full["median"] >= 20 * ours["full"]["median"]),
    ("new session with a known device at least 20x faster than the fastest peer",
     f"{fastest_known['median'] / ours['known']['median']:.0f}x ({fastest_known['label']})",
     fastest_known["median"] >= 20 * ours["known"]["median"]),
    ("cached session under 3 ms median", f"{ms(ours['cached']['median'])} ms", ours["cached"]["median"] < 3),
    ("--clear under 2 ms median", f"{ms(ours['clear']['median'])} ms", ours["clear"]["median"] < 2),
    ("known device: at most 2x the floor (one request over a plain socket)",
     f"{ours['known']['median'] / floor['floor']['median']:.1f}x ({ms(floor['floor']['median'])} ms)",
     ours["known"]["median"] <= 2 * floor["floor"]["median"]),
    ("cached session: at most 2x a process that does nothing",
     f"{ours['cached']['median'] / floor['true']['median']:.1f}x ({ms(floor['true']['median'])} ms)",
     ours["cached"]["median"] <= 2 * floor["true"]["median"]),
    ("--clear: at most 2x a process that does nothing",
     f"{ours['clear']['median'] / floor['true']['median']:.1f}x",
     ours["clear"]["median"] <= 2 * floor["true"]["median"]),
    ("cargo install build: cached session at most 2x a process that does nothing",
     f"{gnu['cached']['median'] / floor['true']['median']:.1f}x",
     gnu["cached"]["median"] <= 2 * floor["true"]["median"]),
    ("cargo install build: --clear at most 2x a process that does nothing",
     f"{gnu['clear']['median'] / floor['true']['median']:.1f}x",
     gnu["clear"]["median"] <= 2 * floor["true"]["median"]),
    ("release binary at most 6 MB", f"{size / 1e6:.2f} MB", size <= 6_000_000),
    ("peak memory at most 12 MB", f"{max(r['mib'] for r in ours.values()):.1f} MiB",
     max(r["mib"] for r in ours.values()) * 1.048576 <= 12),
    ("known device: exactly 1 request", str(ours["known"]["requests"]), ours["known"]["requests"] == 1),
    ("cached session: 0 requests", str(ours["cached"]["requests"]), ours["cached"]["requests"] == 0),
    ("role, MFA session cached: exactly 1 request", str(ours["role"]["requests"]), ours["role"]["requests"] == 1),
    ("role cached: 0 requests", str(ours["role-cached"]["requests"]), ours["role-cached"]["requests"] == 0),
    ("role cached under 3 ms median", f"{ms(ours['role-cached']['median'])} ms", ours["role-cached"]["median"] < 3),
    # One GetSessionToken with one code, and the GetCallerIdentity that
    # checks the key (and opens the connection) while the code command runs.
    ("8 callers at once, cold cache: 2 requests for all (GetCallerIdentity, one GetSessionToken)",
     str(ours["callers"]["requests"]), ours["callers"]["requests"] == 2),
]
print("| target | this run | met |")
print("|---|---|---|")
for name, value, met in targets:
    print(f"| {name} | {value} | {'yes' if met else 'NO'} |")

if opt_levels:
    print()
    print("Release profile, opt-level \"s\" against 3 (everything else equal):")
    print()
    print("| | opt-level \"s\" | opt-level 3 |")
    print("|---|---:|---:|")
    o3_size = int(load("opt-3.size"))
    print(f"| binary size | {size / 1e6:.2f} MB | {o3_size / 1e6:.2f} MB |")
    for id_, label in [("known", "known device, new session"), ("cached", "cached session")]:
        s = json.loads(load(f"opt-s-{id_}.json"))["results"][0]["median"] * 1000
        three = json.loads(load(f"opt-3-{id_}.json"))["results"][0]["median"] * 1000
        print(f"| {label} (median) | {ms(s)} ms | {ms(three)} ms |")
