#!/usr/bin/python3
"""clipkit against PyTorch on the same machine, the same weights file and the same inputs.

For every architecture, task and batch size, the inputs are generated once (.npy), then
`clipkit bench` and bench/clip_torch.py's `bench` (the same interface) run as separate processes,
alternating (clipkit-torch, torch-clipkit, ...) for several rounds, because the host is shared and
its speed changes for seconds at a time. Reported: median forward time of each over all rounds,
the ratio torch/clipkit, achieved GFLOP/s (FLOPs counted analytically: 2 per multiply-add of the
GEMMs and convolutions; one ViT-B/32 image = 8.82 GFLOP, one 77-token text through the B-size text
tower = 5.96 GFLOP), model load time, and peak RSS of each process (from wait4). The first round
dumps both engines' embeddings and checks that they agree (cosine >= 0.99999 for every row).

PyTorch runs at its best: torch.set_num_threads(T) with T = clipkit's --threads, torch.inference_mode(),
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T, OMP_WAIT_POLICY=PASSIVE (Debian's torch runs its linear
layers through the system OpenBLAS, whose own threads are starved by spinning OpenMP workers
otherwise: 5-10x slower at batch 1 on 2 cores), and OPENBLAS_CORETYPE=SkylakeX on CPUs with
AVX-512 (Debian's OpenBLAS 0.3.21 does not recognise some of them and falls back to a slow kernel;
on CPUs without AVX-512 that kernel would die with SIGILL, so OpenBLAS's own detection is kept
there and the core it picked is reported). The settings are printed with the results.

Models come from bench/make_weights.py (bench/models/<arch>/).

Examples:
  /usr/bin/python3 bench/make_weights.py ViT-B-32 RN50
  /usr/bin/python3 bench/compare.py --archs ViT-B-32 --tasks image,text --batches 1,32 --json out.json
  /usr/bin/python3 bench/compare.py --clipkit build/release/clipkit --archs RN50 --rounds 5
  /usr/bin/python3 bench/compare.py --torch-only --archs ViT-B-32        # PyTorch side alone
  /usr/bin/python3 bench/compare.py --check-fixtures                      # validate clip_torch.py
  /usr/bin/python3 bench/compare.py --sweep-torch --archs ViT-B-32        # compare torch settings
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import clip_torch as ct  # noqa: E402

# ":text" limits a model to some tasks (the big towers matter here as Stable Diffusion's encoders).
DEFAULT_ARCHS = "ViT-B-32,RN50,ViT-L-14,ViT-H-14:load+text,ViT-bigG-14:load+text"
# What each benchmark model is, for the table's legend.
ARCH_NOTES = {"ViT-L-14": "text tower = Stable Diffusion 1.x encoder",
              "ViT-H-14": "OpenCLIP ViT-H-14, text tower = Stable Diffusion 2.x encoder",
              "ViT-bigG-14": "OpenCLIP ViT-bigG-14, text tower = SDXL's second encoder"}
COS_MIN = 0.99999


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class RunResult:
    def __init__(self, rc: int, out: str, err: str, peak_rss_kb: int, wall_s: float):
        self.rc, self.out, self.err, self.peak_rss_kb, self.wall_s = rc, out, err, peak_rss_kb, wall_s

    def json_line(self) -> Optional[dict]:
        """The last stdout line that parses as a JSON object (the bench result)."""
        for line in reversed(self.out.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    pass
        return None

    def failure(self) -> str:
        tail = (self.err.strip() or self.out.strip()).splitlines()[-3:]
        return f"exit status {self.rc}: " + " | ".join(tail)


def run_measured(cmd: List[str], env: Dict[str, str], timeout_s: float) -> RunResult:
    """Runs `cmd` and returns its output and its peak RSS (ru_maxrss of this child alone)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        timed_out = threading.Event()

        def on_timeout():
            timed_out.set()
            p.kill()

        timer = threading.Timer(timeout_s, on_timeout)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:  # interrupted or terminated: take the child down with us
            p.kill()
            p.wait()
            raise
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it; tell Popen
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        err = fe.read().decode(errors="replace")
        if timed_out.is_set():
            err += f"\nkilled after the --timeout of {timeout_s:.0f} s"
        return RunResult(p.returncode, fo.read().decode(errors="replace"), err, ru.ru_maxrss, wall)


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def torch_env(threads: int, coretype: str, extra: List[str]) -> Dict[str, str]:
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY"):
        env.pop(k, None)
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"})
    if coretype == "auto":
        if "avx512f" in cpu_flags():
            env["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif coretype != "none":
        env["OPENBLAS_CORETYPE"] = coretype
    for kv in extra:
        k, sep, v = kv.partition("=")
        if not sep:
            raise SystemExit(f"--torch-env expects KEY=VALUE, got '{kv}'")
        if v:
            env[k] = v
        else:
            env.pop(k, None)  # KEY= removes a default
    return env


def env_summary(env: Dict[str, str]) -> Dict[str, str]:
    keys = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
            "OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT")
    return {k: env[k] for k in keys if k in env}


def measure_sgemm(env: Dict[str, str], threads: int, n: int) -> dict:
    """fp32 GEMM rate (n^3) of torch.matmul and numpy under the torch settings, and the OpenBLAS
    kernel family in use (OPENBLAS_VERBOSE=2 makes OpenBLAS print it)."""
    e = dict(env, OPENBLAS_VERBOSE="2")
    r = run_measured([sys.executable, os.path.join(HERE, "clip_torch.py"), "sgemm", "--threads", str(threads),
                      "--n", str(n)], e, 600)
    res = r.json_line() or {"error": r.failure()}
    m = re.search(r"Core:\s*(\S+)", r.out + r.err)
    res["openblas_core"] = m.group(1) if m else "unknown"
    return res


# --------------------------------------------------------------------------------------------
# Benchmark rows
# --------------------------------------------------------------------------------------------

def median(xs: List[float]) -> Optional[float]:
    return statistics.median(xs) if xs else None


def cosine_check(a_path: str, b_path: str, batch: int) -> dict:
    a, b = np.load(a_path).astype(np.float64), np.load(b_path).astype(np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != batch:
        return {"ok": False, "error": f"shapes differ: clipkit {list(a.shape)}, torch {list(b.shape)}"}
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    rel = float(np.abs(a - b).max() / np.abs(b).max())
    return {"ok": bool(cos.min() >= COS_MIN), "min_cos": float(cos.min()), "max_rel_diff": rel}


class Bench:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.tenv = torch_env(a.torch_threads or a.threads, a.openblas_coretype, a.torch_env)
        self.cenv = dict(os.environ)
        for kv in a.clipkit_env:
            k, sep, v = kv.partition("=")
            if not sep:
                raise SystemExit(f"--clipkit-env expects KEY=VALUE, got '{kv}'")
            self.cenv[k] = v
        os.makedirs(a.workdir, exist_ok=True)
        self.rate_guess = 50e9  # refined from the measured sgemm peak
        self.rows: List[dict] = []

    # inputs -------------------------------------------------------------------------------
    def inputs(self, cfg: ct.ClipCfg, task: str) -> str:
        n = max(self.a.batch_sizes)
        if task == "image":
            s = cfg.vision.image_size
            path = os.path.join(self.a.workdir, f"images_{s}_{n}_seed{self.a.seed}.npy")
            if not os.path.exists(path):
                np.save(path, ct.random_images(n, s, seed=self.a.seed))
        else:
            path = os.path.join(self.a.workdir, f"tokens_{cfg.text.context_length}_{n}_seed{self.a.seed}.npy")
            if not os.path.exists(path):
                np.save(path, ct.random_tokens(n, seed=self.a.seed, context_length=cfg.text.context_length))
        return path

    def commands(self, model: str, task: str, batch: int, iters: int, inp: Optional[str],
                 dump: Optional[Tuple[str, str]]) -> Dict[str, List[str]]:
        common = ["--model", model, "--task", task, "--batch", str(batch), "--warmup", str(self.a.warmup),
                  "--iters", str(iters)]
        if inp:
            common += ["--images" if task == "image" else "--tokens", inp]
        cmds = {"clipkit": [self.a.clipkit, "bench"] + common + ["--threads", str(self.a.threads)]
                + shlex.split(self.a.clipkit_args),
                "torch": [sys.executable, os.path.join(HERE, "clip_torch.py"), "bench"] + common
                + ["--threads", str(self.a.torch_threads or self.a.threads)]}
        cmds["torch"] += shlex.split(self.a.torch_args)
        if dump:
            cmds["clipkit"] += ["--dump", dump[0]]
            cmds["torch"] += ["--dump", dump[1]]
        return cmds

    def auto_iters(self, flops: float) -> int:
        if self.a.iters:
            return self.a.iters
        est = flops / self.rate_guess
        return int(min(20, max(1, round(self.a.target_s / max(est, 1e-3)))))

    def run_row(self, arch: str, model: str, cfg: ct.ClipCfg, task: str, batch: int) -> dict:
        a = self.a
        engines = ["torch"] if a.torch_only else ["clipkit", "torch"]
        flops = 0
        if task == "image":
            flops = ct.image_flops(cfg) * batch
        elif task == "text":
            flops = ct.text_flops(cfg) * batch
        iters = a.load_iters if task == "load" else self.auto_iters(flops)
        inp = self.inputs(cfg, task) if task != "load" else None
        row = {"arch": arch, "task": task, "batch": batch if task != "load" else None, "iters_per_round": iters,
               "warmup": a.warmup, "rounds": a.rounds, "flops": flops, "times_ms": {e: [] for e in engines},
               "round_medians_ms": {e: [] for e in engines}, "peak_rss_kb": {e: [] for e in engines},
               "errors": {}}
        tag = f"{arch}_{task}_{batch}"
        dumps = (os.path.join(a.workdir, f"{tag}_clipkit.npy"), os.path.join(a.workdir, f"{tag}_torch.npy"))
        for p in dumps:
            if os.path.exists(p):
                os.remove(p)
        for r in range(a.rounds):
            # Alternate who goes first so that a slow phase of the host hits both alike.
            order = engines if r % 2 == 0 else list(reversed(engines))
            cmds = self.commands(model, task, batch, iters, inp, dumps if (r == 0 and task != "load") else None)
            for e in order:
                if e in row["errors"]:
                    continue
                res = run_measured(cmds[e], self.tenv if e == "torch" else self.cenv, a.timeout)
                j = res.json_line()
                if res.rc != 0 or not j or "times_ms" not in j:
                    row["errors"][e] = f"{shlex.join(cmds[e])}: " + (res.failure() if res.rc else "no JSON line")
                    print(f"  {e} failed: {row['errors'][e]}", file=sys.stderr)
                    continue
                row["times_ms"][e] += j["times_ms"]
                row["round_medians_ms"][e].append(median(j["times_ms"]))
                row["peak_rss_kb"][e].append(res.peak_rss_kb)
                if e == "torch" and "rss_after_import_kb" in j:
                    row["torch_rss_after_import_kb"] = j["rss_after_import_kb"]
        for e in engines:
            m = median(row["times_ms"][e])
            row[f"{e}_ms"] = m
            row[f"{e}_gflops"] = (flops / (m * 1e6)) if (m and flops) else None
            row[f"{e}_peak_rss_mib"] = max(row["peak_rss_kb"][e]) / 1024 if row["peak_rss_kb"][e] else None
        if not a.torch_only and row.get("clipkit_ms") and row.get("torch_ms"):
            row["ratio"] = row["torch_ms"] / row["clipkit_ms"]
            pairs = zip(row["round_medians_ms"]["torch"], row["round_medians_ms"]["clipkit"])
            row["ratio_paired_median"] = median([t / c for t, c in pairs])
        if task != "load" and not a.torch_only and all(os.path.exists(p) for p in dumps):
            row["check"] = cosine_check(dumps[0], dumps[1], batch)
        elif task != "load" and not a.torch_only:
            row["check"] = {"ok": False, "error": "no embeddings dumped"}
        return row

    # table --------------------------------------------------------------------------------
    HEAD = ["arch", "task", "batch", "clipkit ms", "torch ms", "torch/clipkit", "clipkit GFLOP/s",
            "torch GFLOP/s", "clipkit RSS MiB", "torch RSS MiB", "check"]

    @staticmethod
    def cells(r: dict) -> List[str]:
        def f(x, fmt):
            return format(x, fmt) if x is not None else "-"
        chk = "-"
        if "check" in r:
            c = r["check"]
            chk = (f"cos {c['min_cos']:.7f}" if "min_cos" in c else c.get("error", "?")) + ("" if c["ok"] else " FAIL")
        if r.get("errors"):
            chk += " (" + ", ".join(f"{e} failed" for e in r["errors"]) + ")"
        return [r["arch"], r["task"], str(r["batch"] or "-"), f(r.get("clipkit_ms"), ".1f"), f(r.get("torch_ms"), ".1f"),
                f(r.get("ratio"), ".2f"), f(r.get("clipkit_gflops"), ".1f"), f(r.get("torch_gflops"), ".1f"),
                f(r.get("clipkit_peak_rss_mib"), ".0f"), f(r.get("torch_peak_rss_mib"), ".0f"), chk]

    def print_table(self) -> None:
        rows = [self.HEAD] + [self.cells(r) for r in self.rows]
        if self.a.torch_only:  # keep arch, task, batch and the torch columns
            keep = [i for i, h in enumerate(self.HEAD) if i < 3 or h.startswith("torch ")]
            rows = [[r[i] for i in keep] for r in rows]
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "|".join(" --- " for _ in rows[0]) + "|")
        for r in rows[1:]:
            print("| " + " | ".join(r) + " |")


def run_compare(a: argparse.Namespace) -> int:
    b = Bench(a)
    if not a.torch_only and not (os.path.isfile(a.clipkit) and os.access(a.clipkit, os.X_OK)):
        print(f"clipkit binary not found at {a.clipkit} (build it, pass --clipkit PATH, or use --torch-only)",
              file=sys.stderr)
        return 2
    tthreads = a.torch_threads or a.threads
    info = {"cpu": cpu_model(), "cpus": os.cpu_count(), "avx512f": "avx512f" in cpu_flags(),
            "python": platform.python_version(), "torch": ct.torch.__version__, "numpy": np.__version__,
            "loadavg_start": os.getloadavg()}
    settings = {"clipkit": a.clipkit if not a.torch_only else None, "clipkit_threads": a.threads,
                "torch_threads": tthreads, "torch_inference_mode": True,
                "torch_attention": "scaled_dot_product_attention" if ct.HAS_SDPA else "baddbmm + softmax + bmm",
                "torch_env": env_summary(b.tenv), "clipkit_env": a.clipkit_env, "clipkit_args": a.clipkit_args,
                "torch_args": a.torch_args,
                "rounds": a.rounds, "warmup": a.warmup, "iters": a.iters or f"auto (~{a.target_s}s per run)",
                "batches": a.batch_sizes, "seed": a.seed}
    print("settings: " + json.dumps(settings))
    if not a.no_sgemm:
        sg = measure_sgemm(b.tenv, tthreads, a.sgemm_n)
        info["sgemm"] = sg
        if "torch_gflops_best" in sg:
            b.rate_guess = 0.5 * sg["torch_gflops_best"] * 1e9
            print(f"fp32 sgemm {a.sgemm_n}^3, {tthreads} threads: torch.matmul {sg['torch_gflops_best']:.1f} GFLOP/s, "
                  f"numpy {sg['numpy_gflops_best']:.1f} GFLOP/s (best of {sg['reps']}; OpenBLAS core {sg['openblas_core']})")
        else:
            print(f"sgemm measurement failed: {sg.get('error')}", file=sys.stderr)
    print(f"cpu: {info['cpu']} ({info['cpus']} cpus, avx512f={info['avx512f']}), torch {info['torch']}, "
          f"load average {info['loadavg_start'][0]:.2f}", flush=True)

    for arch, arch_tasks in a.arch_list:
        model = os.path.join(a.models, arch)
        if not os.path.isdir(model):
            print(f"{model}: missing; create it with: /usr/bin/python3 bench/make_weights.py {arch}", file=sys.stderr)
            continue
        cfg, _ = ct.resolve_model(model)
        for task in a.task_list:
            if arch_tasks and task not in arch_tasks:
                continue
            if (task == "image" and cfg.vision is None) or (task == "text" and cfg.text is None):
                continue
            for batch in ([1] if task == "load" else a.batch_sizes):
                t0 = time.time()
                row = b.run_row(arch, model, cfg, task, batch)
                row["wall_s"] = time.time() - t0
                b.rows.append(row)
                print("  " + " | ".join(f"{h}: {c}" for h, c in zip(b.HEAD, b.cells(row))) +
                      f"  ({row['wall_s']:.0f} s)", flush=True)
    info["loadavg_end"] = os.getloadavg()
    print()
    print(f"torch: {json.dumps(settings['torch_env'])}, torch.set_num_threads({tthreads}), inference_mode, "
          f"attention {settings['torch_attention']}"
          + ("" if a.torch_only else f"; clipkit --threads {a.threads} {a.clipkit_args}".rstrip())
          + f"; medians over {a.rounds} {'' if a.torch_only else 'interleaved '}rounds")
    b.print_table()
    notes = [f"{k}: {v}" for k, v in ARCH_NOTES.items() if k in dict(a.arch_list)]
    if notes:
        print("; ".join(notes))
    failed = [r for r in b.rows if r.get("errors") or ("check" in r and not r["check"]["ok"])]
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "settings": settings, "command": shlex.join(sys.argv), "rows": b.rows},
                      f, indent=1)
        print(f"wrote {a.json}")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Validation of clip_torch.py against the OpenAI goldens
# --------------------------------------------------------------------------------------------

def check_fixtures(a: argparse.Namespace) -> int:
    import torch
    torch.set_num_threads(a.threads)
    data = os.path.join(ROOT, "tests", "data")
    ok = True
    print("| model | quantity | max abs diff / max abs ref | vs float64 golden | within 1e-5 |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("tiny_vit", "tiny_rn", "tiny_vit_fp16"):
        model = ct.load_model(os.path.join(data, "models", name))
        g, _ = ct.read_safetensors(os.path.join(data, "goldens", f"{name}.safetensors"))
        with torch.inference_mode():
            got = {"text_embeds": model.encode_text(g["input_ids"]),
                   "image_embeds": model.encode_image(g["pixel_values"]),
                   "text_pooled": model.encode_text(g["input_ids"], project=False)}
            if not model.cfg.vision.is_resnet:
                got["vision_pooled"] = model.encode_image(g["pixel_values"], project=False)
            else:  # the benchmark runs the ResNet with BatchNorm folded and channels-last
                fast = ct.load_model(os.path.join(data, "models", name))
                ct.optimize_for_inference(fast)
                got["image_embeds (fused, channels-last)"] = fast.encode_image(g["pixel_values"])
            i = got["image_embeds"] / got["image_embeds"].norm(dim=-1, keepdim=True)
            t = got["text_embeds"] / got["text_embeds"].norm(dim=-1, keepdim=True)
            got["logits_per_image"] = model.logit_scale.exp() * i @ t.T
        for key, val in got.items():
            gkey = key.split(" ")[0]
            if gkey not in g:
                continue
            ref = g[gkey].double()
            rel = float((val.double() - ref).abs().max() / ref.abs().max())
            f64 = g.get(gkey + ".f64")
            rel64 = float((val.double() - f64).abs().max() / f64.abs().max()) if f64 is not None else None
            good = rel <= 1e-5
            ok &= good
            print(f"| {name} | {key} {list(val.shape)} | {rel:.2e} | "
                  f"{'-' if rel64 is None else format(rel64, '.2e')} | {'yes' if good else 'NO'} |")
    print("clip_torch.py reproduces OpenAI's outputs" if ok else "MISMATCH: clip_torch.py disagrees with the goldens")
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# Sweep of PyTorch thread settings (to justify the defaults)
# --------------------------------------------------------------------------------------------

def sweep_torch(a: argparse.Namespace) -> int:
    t = a.torch_threads or a.threads
    base = torch_env(t, a.openblas_coretype, [])
    variants = {
        "OMP active (torch default)": (dict(base, OMP_WAIT_POLICY=""), t),
        "OMP_WAIT_POLICY=PASSIVE": (base, t),
        f"torch threads 1, OpenBLAS {t}": (dict(base, OMP_WAIT_POLICY=""), 1),
        f"PASSIVE, torch threads 1, OpenBLAS {t}": (base, 1),
    }
    for env, _ in variants.values():
        if env.get("OMP_WAIT_POLICY") == "":
            del env["OMP_WAIT_POLICY"]
    arch = a.arch_list[0][0]
    model = os.path.join(a.models, arch)
    cfg, _ = ct.resolve_model(model)
    b = Bench(a)
    results = {v: {} for v in variants}
    tasks = [x for x in a.task_list if x != "load"]
    for task in tasks:
        for batch in a.batch_sizes:
            inp = b.inputs(cfg, task)
            flops = (ct.image_flops(cfg) if task == "image" else ct.text_flops(cfg)) * batch
            iters = b.auto_iters(flops)
            times: Dict[str, List[float]] = {v: [] for v in variants}
            for r in range(a.rounds):
                names = list(variants) if r % 2 == 0 else list(reversed(variants))
                for v in names:
                    env, th = variants[v]
                    cmd = [sys.executable, os.path.join(HERE, "clip_torch.py"), "bench", "--model", model, "--task",
                           task, "--batch", str(batch), "--warmup", str(a.warmup), "--iters", str(iters),
                           "--threads", str(th), "--images" if task == "image" else "--tokens", inp]
                    res = run_measured(cmd, env, a.timeout)
                    j = res.json_line()
                    if j:
                        times[v] += j["times_ms"]
            for v in variants:
                m = median(times[v])
                results[v][f"{task} b{batch}"] = m
                print(f"  {v}: {task} batch {batch}: {m:.1f} ms ({flops / m / 1e6:.1f} GFLOP/s)", flush=True)
    cols = list(next(iter(results.values())))
    print(f"\n{arch}, median ms over {a.rounds} interleaved rounds, OPENBLAS_CORETYPE="
          f"{base.get('OPENBLAS_CORETYPE', '(detected)')}")
    print("| setting | " + " | ".join(cols) + " |")
    print("|" + " --- |" * (len(cols) + 1))
    for v, rs in results.items():
        print(f"| {v} | " + " | ".join(f"{rs[c]:.1f}" if rs[c] else "-" for c in cols) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"arch": arch, "rounds": a.rounds, "results_ms": results,
                       "envs": {v: env_summary(e) for v, (e, _) in variants.items()}}, f, indent=1)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so that run_measured stops the benchmark process it waits for.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clipkit", default=os.path.join(ROOT, "build", "release", "clipkit"),
                   help="the clipkit binary (default: build/release/clipkit)")
    p.add_argument("--models", default=os.path.join(HERE, "models"), help="folder of make_weights.py's models")
    p.add_argument("--archs", default=DEFAULT_ARCHS,
                   help="comma-separated model folders under --models, each optionally limited to some tasks "
                        "with ':task+task' (default: %(default)s)")
    p.add_argument("--tasks", default="load,image,text", help="comma-separated subset of load,image,text")
    p.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    p.add_argument("--threads", type=int, default=2, help="clipkit threads, and torch's unless --torch-threads")
    p.add_argument("--torch-threads", type=int, help="torch threads when different from --threads")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations per run (default 1)")
    p.add_argument("--iters", type=int, help="timed iterations per run (default: about --target-s seconds)")
    p.add_argument("--target-s", type=float, default=3.0, help="timed seconds per run when --iters is not given")
    p.add_argument("--load-iters", type=int, default=3, help="timed loads per run for the load task")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.add_argument("--openblas-coretype", default="auto",
                   help="OPENBLAS_CORETYPE for torch: auto (SkylakeX when the CPU has AVX-512, else OpenBLAS's "
                        "own detection), none, or a core name")
    p.add_argument("--torch-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the torch processes (KEY= removes a default); repeatable")
    p.add_argument("--clipkit-args", default="", help="extra arguments for clipkit bench, e.g. '--gemm openblas'")
    p.add_argument("--clipkit-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the clipkit processes; repeatable")
    p.add_argument("--torch-args", default="",
                   help="extra arguments for clip_torch.py bench, e.g. '--no-fuse-bn --no-channels-last'")
    p.add_argument("--torch-only", action="store_true", help="run only the PyTorch side")
    p.add_argument("--no-sgemm", action="store_true", help="skip the sgemm peak measurement")
    p.add_argument("--sgemm-n", type=int, default=4096, help="matrix size of the sgemm measurement")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a single run is killed")
    p.add_argument("--workdir", default=os.path.join(HERE, "results", "tmp"),
                   help="inputs and embedding dumps (default bench/results/tmp, git-ignored)")
    p.add_argument("--json", help="also write all results, settings and machine facts to this file")
    p.add_argument("--check-fixtures", action="store_true",
                   help="validate clip_torch.py against tests/data/goldens (OpenAI's outputs) and exit")
    p.add_argument("--sweep-torch", action="store_true",
                   help="time PyTorch alone under several thread settings (first of --archs) and exit")
    a = p.parse_args(argv)
    a.arch_list = []
    for x in filter(None, a.archs.split(",")):
        name, _, tasks = x.partition(":")
        a.arch_list.append((name, set(tasks.split("+")) if tasks else None))
    a.task_list = [x for x in a.tasks.split(",") if x]
    bad = set(a.task_list) - {"load", "image", "text"}
    if bad:
        p.error(f"unknown task(s): {', '.join(sorted(bad))}")
    try:
        a.batch_sizes = [int(x) for x in a.batches.split(",") if x]
    except ValueError:
        p.error("--batches takes comma-separated integers")
    if not a.batch_sizes or min(a.batch_sizes) < 1 or a.rounds < 1:
        p.error("batch sizes and --rounds must be positive")
    a.clipkit = os.path.abspath(a.clipkit)
    if a.check_fixtures:
        return check_fixtures(a)
    if a.sweep_torch:
        return sweep_torch(a)
    return run_compare(a)


if __name__ == "__main__":
    sys.exit(main())
