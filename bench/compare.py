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

Beyond float32, `ARCH@fp16` / `ARCH@bf16` rows run both engines on the 16-bit folder
(make_weights.py --dtype; clipkit keeps the weights 16-bit in memory, torch upcasts them at load, so
their peak RSS differ) and `ARCH@int8` runs clipkit on bench/models/ARCH-int8 (written by
`clipkit quantize` when missing) against torch float32, reporting the least cosine between the two.
`--tasks startup` times process start to the first image embedding on disk (`clipkit embed` on one
photo against `clip_torch.py embed`), `--threads 1,2` runs every row at each thread count and
prints the speed-up, and every row shows its GFLOP/s as a share of the best fp32 sgemm rate
measured (torch.matmul, numpy and oneDNN's dnnl_sgemm at the same thread count).

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
  /usr/bin/python3 bench/compare.py --archs ViT-B-32@int8,ViT-B-32@fp16 --tasks image,text --batches 1
  /usr/bin/python3 bench/compare.py --archs ViT-B-32 --tasks startup --rounds 5
  /usr/bin/python3 bench/compare.py --archs ViT-B-32 --tasks image,text --threads 1,2
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
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


def cosine_check(a_path: str, b_path: str, batch: int, bar: float = COS_MIN) -> dict:
    a, b = np.load(a_path).astype(np.float64), np.load(b_path).astype(np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != batch:
        return {"ok": False, "error": f"shapes differ: clipkit {list(a.shape)}, torch {list(b.shape)}"}
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    rel = float(np.abs(a - b).max() / np.abs(b).max())
    return {"ok": bool(cos.min() >= bar), "min_cos": float(cos.min()), "max_rel_diff": rel, "bar": bar}


def measure_onednn_peak(threads: int, n: int) -> dict:
    """dnnl_sgemm's rate on n^3 (bench/profile.py peak): the library clipkit calls by default."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    r = run_measured([sys.executable, os.path.join(HERE, "profile.py"), "peak", "--threads", str(threads),
                      "--n", str(n)], env, 600)
    return r.json_line() or {"error": r.failure()}


class Variant:
    """What a row runs: `ARCH` (float32 folder for both engines), `ARCH@fp16` / `ARCH@bf16`
    (the 16-bit folder from make_weights.py --dtype for both engines: clipkit keeps the 16-bit
    weights, torch upcasts them at load) or `ARCH@int8` (clipkit on the folder written by
    `clipkit quantize`, torch in float32 on the float32 folder)."""
    KINDS = ("fp16", "bf16", "int8")

    def __init__(self, spec: str, models: str):
        self.arch, _, self.kind = spec.partition("@")
        if self.kind and self.kind not in self.KINDS:
            raise SystemExit(f"--archs: unknown variant '@{self.kind}' in '{spec}' (known: "
                             + ", ".join("@" + k for k in self.KINDS) + ")")
        self.label = spec
        self.fp32_dir = os.path.join(models, self.arch)
        self.clipkit_dir = os.path.join(models, f"{self.arch}-{self.kind}") if self.kind else self.fp32_dir
        self.torch_dir = self.fp32_dir if self.kind in ("", "int8") else self.clipkit_dir

    @property
    def exact(self) -> bool:
        """Both engines compute from the same weight values (the strict agreement bar applies)."""
        return self.kind != "int8"


class Bench:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.cenv = dict(os.environ)
        for kv in a.clipkit_env:
            k, sep, v = kv.partition("=")
            if not sep:
                raise SystemExit(f"--clipkit-env expects KEY=VALUE, got '{kv}'")
            self.cenv[k] = v
        os.makedirs(a.workdir, exist_ok=True)
        self.rate_guess = 50e9  # refined from the measured sgemm peak
        self.peaks: Dict[int, float] = {}  # clipkit threads -> best measured fp32 sgemm GFLOP/s
        self.rows: List[dict] = []
        self.startup_rows: List[dict] = []
        self._tenv: Dict[int, Dict[str, str]] = {}
        self.tenv = self.torch_env_for(a.threads)

    def torch_threads(self, threads: int) -> int:
        return self.a.torch_threads or threads

    def torch_env_for(self, threads: int) -> Dict[str, str]:
        t = self.torch_threads(threads)
        if t not in self._tenv:
            self._tenv[t] = torch_env(t, self.a.openblas_coretype, self.a.torch_env)
        return self._tenv[t]

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

    def commands(self, v: Variant, task: str, batch: int, iters: int, inp: Optional[str],
                 dump: Optional[Tuple[str, str]], threads: int) -> Dict[str, List[str]]:
        common = ["--task", task, "--batch", str(batch), "--warmup", str(self.a.warmup), "--iters", str(iters)]
        if inp:
            common += ["--images" if task == "image" else "--tokens", inp]
        cmds = {"clipkit": [self.a.clipkit, "bench", "--model", v.clipkit_dir] + common
                + ["--threads", str(threads)] + shlex.split(self.a.clipkit_args),
                "torch": [sys.executable, os.path.join(HERE, "clip_torch.py"), "bench", "--model", v.torch_dir]
                + common + ["--threads", str(self.torch_threads(threads))]}
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

    def engines(self) -> List[str]:
        return ["torch"] if self.a.torch_only else ["clipkit", "torch"]

    def run_row(self, v: Variant, cfg: ct.ClipCfg, task: str, batch: int, threads: int) -> dict:
        a = self.a
        engines = self.engines()
        flops = 0
        if task == "image":
            flops = ct.image_flops(cfg) * batch
        elif task == "text":
            flops = ct.text_flops(cfg) * batch
        iters = a.load_iters if task == "load" else self.auto_iters(flops)
        inp = self.inputs(cfg, task) if task != "load" else None
        row = {"arch": v.label, "variant": v.kind or "fp32", "clipkit_model": v.clipkit_dir,
               "torch_model": v.torch_dir, "task": task, "batch": batch if task != "load" else None,
               "threads": threads, "torch_threads": self.torch_threads(threads), "iters_per_round": iters,
               "warmup": a.warmup, "rounds": a.rounds, "flops": flops, "times_ms": {e: [] for e in engines},
               "round_medians_ms": {e: [] for e in engines}, "peak_rss_kb": {e: [] for e in engines},
               "errors": {}}
        tag = f"{v.label}_{task}_{batch}_t{threads}"
        dumps = (os.path.join(a.workdir, f"{tag}_clipkit.npy"), os.path.join(a.workdir, f"{tag}_torch.npy"))
        for p in dumps:
            if os.path.exists(p):
                os.remove(p)
        for r in range(a.rounds):
            # Alternate who goes first so that a slow phase of the host hits both alike.
            order = engines if r % 2 == 0 else list(reversed(engines))
            cmds = self.commands(v, task, batch, iters, inp, dumps if (r == 0 and task != "load") else None,
                                 threads)
            for e in order:
                if e in row["errors"]:
                    continue
                res = run_measured(cmds[e], self.torch_env_for(threads) if e == "torch" else self.cenv, a.timeout)
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
        peak = self.peaks.get(threads)
        for e in engines:
            m = median(row["times_ms"][e])
            row[f"{e}_ms"] = m
            row[f"{e}_gflops"] = (flops / (m * 1e6)) if (m and flops) else None
            row[f"{e}_pct_sgemm_peak"] = (100 * row[f"{e}_gflops"] / peak) if (peak and row[f"{e}_gflops"]) else None
            row[f"{e}_peak_rss_mib"] = max(row["peak_rss_kb"][e]) / 1024 if row["peak_rss_kb"][e] else None
            if m and task != "load":
                row[f"{e}_items_per_s"] = batch * 1000.0 / m
        if not a.torch_only and row.get("clipkit_ms") and row.get("torch_ms"):
            row["ratio"] = row["torch_ms"] / row["clipkit_ms"]
            pairs = zip(row["round_medians_ms"]["torch"], row["round_medians_ms"]["clipkit"])
            row["ratio_paired_median"] = median([t / c for t, c in pairs])
        if task != "load" and not a.torch_only and all(os.path.exists(p) for p in dumps):
            row["check"] = cosine_check(dumps[0], dumps[1], batch, COS_MIN if v.exact else a.int8_min_cos)
            if not v.exact:
                row["check"]["against"] = "torch float32"
        elif task != "load" and not a.torch_only:
            row["check"] = {"ok": False, "error": "no embeddings dumped"}
        return row

    def run_startup(self, v: Variant, threads: int) -> dict:
        """Process start to the first image embedding on disk: `clipkit embed` against
        `clip_torch.py embed` on one photo, interleaved, one untimed run of each first (so both
        start with the model file and the libraries in the page cache)."""
        a = self.a
        engines = self.engines()
        outs = {e: os.path.join(a.workdir, f"startup_{v.label}_t{threads}_{e}.npy") for e in engines}
        cmds = {"clipkit": [a.clipkit, "embed", "--model", v.clipkit_dir, "--image", a.startup_image, "-o",
                            outs["clipkit"], "--threads", str(threads)] + shlex.split(a.clipkit_embed_args),
                "torch": [sys.executable, os.path.join(HERE, "clip_torch.py"), "embed", "--model", v.torch_dir,
                          "--image", a.startup_image, "-o", outs["torch"], "--threads", str(self.torch_threads(threads))]}
        row = {"arch": v.label, "variant": v.kind or "fp32", "task": "startup", "image": a.startup_image,
               "threads": threads, "rounds": a.rounds, "commands": {e: shlex.join(cmds[e]) for e in engines},
               "to_file_ms": {e: [] for e in engines}, "to_exit_ms": {e: [] for e in engines},
               "peak_rss_kb": {e: [] for e in engines}, "errors": {}}
        for r in range(a.rounds + 1):  # round 0 is the untimed warm-up
            order = engines if r % 2 == 0 else list(reversed(engines))
            for e in order:
                if e in row["errors"]:
                    continue
                if os.path.exists(outs[e]):
                    os.remove(outs[e])
                env = self.torch_env_for(threads) if e == "torch" else self.cenv
                t0 = time.time_ns()
                res = run_measured(cmds[e], env, a.timeout)
                if res.rc != 0 or not os.path.exists(outs[e]):
                    row["errors"][e] = f"{shlex.join(cmds[e])}: " + (res.failure() if res.rc else "no output file")
                    print(f"  {e} failed: {row['errors'][e]}", file=sys.stderr)
                    continue
                if r == 0:
                    continue
                # The file's modification time (the kernel's clock, fine-grained here) marks when the
                # embedding was written; process exit comes after the interpreter's or runtime's teardown.
                row["to_file_ms"][e].append((os.stat(outs[e]).st_mtime_ns - t0) / 1e6)
                row["to_exit_ms"][e].append(res.wall_s * 1e3)
                row["peak_rss_kb"][e].append(res.peak_rss_kb)
        for e in engines:
            row[f"{e}_to_file_ms"] = median(row["to_file_ms"][e])
            row[f"{e}_to_exit_ms"] = median(row["to_exit_ms"][e])
            row[f"{e}_peak_rss_mib"] = max(row["peak_rss_kb"][e]) / 1024 if row["peak_rss_kb"][e] else None
        if not a.torch_only and row.get("clipkit_to_file_ms") and row.get("torch_to_file_ms"):
            row["ratio"] = row["torch_to_file_ms"] / row["clipkit_to_file_ms"]
            if all(os.path.exists(outs[e]) for e in engines):
                row["check"] = cosine_check(outs["clipkit"], outs["torch"], 1, COS_MIN if v.exact else a.int8_min_cos)
        return row

    # tables -------------------------------------------------------------------------------
    HEAD = ["arch", "task", "batch", "threads", "clipkit ms", "torch ms", "torch/clipkit", "clipkit GFLOP/s",
            "torch GFLOP/s", "clipkit % of sgemm peak", "torch % of sgemm peak", "clipkit RSS MiB",
            "torch RSS MiB", "check"]

    @staticmethod
    def check_cell(r: dict) -> str:
        chk = "-"
        if "check" in r:
            c = r["check"]
            chk = (f"cos {c['min_cos']:.7f}" if "min_cos" in c else c.get("error", "?")) + ("" if c["ok"] else " FAIL")
            if c.get("against"):
                chk += f" (vs {c['against']})"
        if r.get("errors"):
            chk += " (" + ", ".join(f"{e} failed" for e in r["errors"]) + ")"
        return chk

    @classmethod
    def cells(cls, r: dict) -> List[str]:
        def f(x, fmt):
            return format(x, fmt) if x is not None else "-"
        return [r["arch"], r["task"], str(r["batch"] or "-"), str(r.get("threads", "-")),
                f(r.get("clipkit_ms"), ".1f"), f(r.get("torch_ms"), ".1f"),
                f(r.get("ratio"), ".2f"), f(r.get("clipkit_gflops"), ".1f"), f(r.get("torch_gflops"), ".1f"),
                f(r.get("clipkit_pct_sgemm_peak"), ".0f"), f(r.get("torch_pct_sgemm_peak"), ".0f"),
                f(r.get("clipkit_peak_rss_mib"), ".0f"), f(r.get("torch_peak_rss_mib"), ".0f"), cls.check_cell(r)]

    def keep_columns(self, head: List[str]) -> List[int]:
        keep = list(range(len(head)))
        if len(self.a.thread_list) == 1:
            keep = [i for i in keep if head[i] != "threads"]
        if self.a.torch_only:  # keep arch, task, batch, threads and the torch columns
            keep = [i for i in keep if head[i] in ("arch", "task", "batch", "threads", "image")
                    or head[i].startswith("torch ")]
        return keep

    @staticmethod
    def print_md(rows: List[List[str]]) -> None:
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "|".join(" --- " for _ in rows[0]) + "|")
        for r in rows[1:]:
            print("| " + " | ".join(r) + " |")

    def print_table(self) -> None:
        if not self.rows:
            return
        keep = self.keep_columns(self.HEAD)
        rows = [self.HEAD] + [self.cells(r) for r in self.rows]
        self.print_md([[r[i] for i in keep] for r in rows])

    STARTUP_HEAD = ["arch", "image", "threads", "clipkit to file ms", "torch to file ms", "torch/clipkit",
                    "clipkit to exit ms", "torch to exit ms", "clipkit RSS MiB", "torch RSS MiB", "check"]

    def print_startup_table(self) -> None:
        if not self.startup_rows:
            return
        def f(x, fmt):
            return format(x, fmt) if x is not None else "-"
        rows = [self.STARTUP_HEAD]
        for r in self.startup_rows:
            rows.append([r["arch"], os.path.basename(r["image"]), str(r["threads"]),
                         f(r.get("clipkit_to_file_ms"), ".0f"), f(r.get("torch_to_file_ms"), ".0f"),
                         f(r.get("ratio"), ".2f"), f(r.get("clipkit_to_exit_ms"), ".0f"),
                         f(r.get("torch_to_exit_ms"), ".0f"), f(r.get("clipkit_peak_rss_mib"), ".0f"),
                         f(r.get("torch_peak_rss_mib"), ".0f"), self.check_cell(r)])
        keep = self.keep_columns(self.STARTUP_HEAD)
        self.print_md([[r[i] for i in keep] for r in rows])

    def print_scaling(self) -> None:
        """Throughput at each thread count and the speed-up over the fewest threads."""
        ts = sorted(self.a.thread_list)
        if len(ts) < 2:
            return
        groups: Dict[Tuple[str, str, int], Dict[int, dict]] = {}
        for r in self.rows:
            if r["task"] != "load":
                groups.setdefault((r["arch"], r["task"], r["batch"]), {})[r["threads"]] = r
        head = ["arch", "task", "batch"]
        for e in self.engines():
            head += [f"{e} items/s @{t}" for t in ts] + [f"{e} speed-up {t}/{ts[0]}" for t in ts[1:]]
        out = [head]
        for (arch, task, batch), by_t in groups.items():
            cells = [arch, task, str(batch)]
            for e in self.engines():
                rates = [by_t.get(t, {}).get(f"{e}_items_per_s") for t in ts]
                cells += [format(x, ".2f") if x else "-" for x in rates]
                cells += [format(x / rates[0], ".2f") if (x and rates[0]) else "-" for x in rates[1:]]
            out.append(cells)
        print()
        print("thread scaling (items per second from the median forward time):")
        self.print_md(out)


def quantize_available(clipkit: str) -> bool:
    """Whether `clipkit --help` lists a quantize subcommand (an unknown subcommand's --help would
    print the main help and succeed, so that is not a test)."""
    r = subprocess.run([clipkit, "--help"], capture_output=True, text=True)
    return r.returncode == 0 and re.search(r"^\s+quantize\s", r.stdout, re.M) is not None


def prepare_variant(v: Variant, a: argparse.Namespace) -> bool:
    """Makes sure both engines' folders exist; creates a missing int8 folder with clipkit quantize.
    Returns False (after saying why) when the row must be skipped."""
    if not os.path.isdir(v.fp32_dir) and v.kind in ("", "int8"):
        print(f"{v.fp32_dir}: missing; create it with: /usr/bin/python3 bench/make_weights.py {v.arch}",
              file=sys.stderr)
        return False
    if v.kind in ("fp16", "bf16") and not os.path.isdir(v.clipkit_dir):
        print(f"{v.clipkit_dir}: missing; create it with: /usr/bin/python3 bench/make_weights.py {v.arch} "
              f"--dtype {v.kind}", file=sys.stderr)
        return False
    if v.kind == "int8" and not os.path.isdir(v.clipkit_dir):
        if a.torch_only:
            return True  # torch runs the float32 folder
        if not quantize_available(a.clipkit):
            print(f"{v.label}: skipped: {v.clipkit_dir} is missing and this clipkit has no `quantize` command "
                  f"(it would be made with: clipkit quantize {v.fp32_dir} -o {v.clipkit_dir})", file=sys.stderr)
            return False
        cmd = [a.clipkit, "quantize", v.fp32_dir, "-o", v.clipkit_dir]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{v.label}: skipped: {shlex.join(cmd)} failed: {(r.stderr or r.stdout).strip()[-500:]}",
                  file=sys.stderr)
            if os.path.isdir(v.clipkit_dir):  # it did not exist before: leave no half-written model
                shutil.rmtree(v.clipkit_dir)
            return False
        print(f"  {shlex.join(cmd)}: {time.time() - t0:.1f} s", flush=True)
    return True


def run_compare(a: argparse.Namespace) -> int:
    b = Bench(a)
    if not a.torch_only and not (os.path.isfile(a.clipkit) and os.access(a.clipkit, os.X_OK)):
        print(f"clipkit binary not found at {a.clipkit} (build it, pass --clipkit PATH, or use --torch-only)",
              file=sys.stderr)
        return 2
    info = {"cpu": cpu_model(), "cpus": os.cpu_count(), "avx512f": "avx512f" in cpu_flags(),
            "python": platform.python_version(), "torch": ct.torch.__version__, "numpy": np.__version__,
            "loadavg_start": os.getloadavg()}
    settings = {"clipkit": a.clipkit if not a.torch_only else None, "clipkit_threads": a.thread_list,
                "torch_threads": [b.torch_threads(t) for t in a.thread_list], "torch_inference_mode": True,
                "torch_attention": "scaled_dot_product_attention" if ct.HAS_SDPA else "baddbmm + softmax + bmm",
                "torch_env": {t: env_summary(b.torch_env_for(t)) for t in a.thread_list},
                "clipkit_env": a.clipkit_env, "clipkit_args": a.clipkit_args, "torch_args": a.torch_args,
                "rounds": a.rounds, "warmup": a.warmup, "iters": a.iters or f"auto (~{a.target_s}s per run)",
                "batches": a.batch_sizes, "seed": a.seed}
    if "startup" in a.task_list:
        settings["startup_image"] = a.startup_image
    print("settings: " + json.dumps(settings))
    if not a.no_sgemm:
        info["sgemm"] = {}
        for t in a.thread_list:
            tt = b.torch_threads(t)
            sg = measure_sgemm(b.torch_env_for(t), tt, a.sgemm_n)
            od = measure_onednn_peak(t, a.sgemm_n)
            sg["onednn"] = od
            info["sgemm"][t] = sg
            rates = [x for x in (sg.get("torch_gflops_best"), sg.get("numpy_gflops_best"),
                                 od.get("onednn_gflops_best")) if x]
            if not rates:
                print(f"sgemm measurement failed: {sg.get('error')} {od.get('error', '')}", file=sys.stderr)
                continue
            b.peaks[t] = max(rates)
            sg["peak_gflops"] = b.peaks[t]
            if t == a.threads:
                b.rate_guess = 0.5 * b.peaks[t] * 1e9
            def g(x):
                return f"{x:.1f}" if x else "failed"
            print(f"fp32 sgemm {a.sgemm_n}^3, {t} thread(s): torch.matmul {g(sg.get('torch_gflops_best'))}, "
                  f"numpy {g(sg.get('numpy_gflops_best'))} (OpenBLAS core {sg.get('openblas_core')}), "
                  f"oneDNN {g(od.get('onednn_gflops_best'))} GFLOP/s (best of 3); peak = {b.peaks[t]:.1f}")
    print(f"cpu: {info['cpu']} ({info['cpus']} cpus, avx512f={info['avx512f']}), torch {info['torch']}, "
          f"load average {info['loadavg_start'][0]:.2f}", flush=True)

    for spec, arch_tasks in a.arch_list:
        v = Variant(spec, a.models)
        if not prepare_variant(v, a):
            continue
        cfg, _ = ct.resolve_model(v.torch_dir)
        for task in a.task_list:
            if arch_tasks and task not in arch_tasks:
                continue
            if (task in ("image", "startup") and cfg.vision is None) or (task == "text" and cfg.text is None):
                continue
            for threads in a.thread_list:
                if task == "startup":
                    t0 = time.time()
                    row = b.run_startup(v, threads)
                    row["wall_s"] = time.time() - t0
                    b.startup_rows.append(row)
                    print(f"  {v.label} startup threads {threads}: clipkit {row.get('clipkit_to_file_ms')} ms, "
                          f"torch {row.get('torch_to_file_ms')} ms to the file; {Bench.check_cell(row)}  "
                          f"({row['wall_s']:.0f} s)", flush=True)
                    continue
                for batch in ([1] if task == "load" else a.batch_sizes):
                    t0 = time.time()
                    row = b.run_row(v, cfg, task, batch, threads)
                    row["wall_s"] = time.time() - t0
                    b.rows.append(row)
                    print("  " + " | ".join(f"{h}: {c}" for h, c in zip(b.HEAD, b.cells(row))) +
                          f"  ({row['wall_s']:.0f} s)", flush=True)
    info["loadavg_end"] = os.getloadavg()
    print()
    tdesc = ",".join(str(b.torch_threads(t)) for t in a.thread_list)
    print(f"torch: {json.dumps(settings['torch_env'][a.thread_list[0]])}, torch.set_num_threads({tdesc}), "
          f"inference_mode, attention {settings['torch_attention']}"
          + ("" if a.torch_only else f"; clipkit --threads {','.join(map(str, a.thread_list))} {a.clipkit_args}".rstrip())
          + f"; medians over {a.rounds} {'' if a.torch_only else 'interleaved '}rounds"
          + ("; % of sgemm peak: against the best fp32 sgemm rate measured above at the same threads"
             if b.peaks else ""))
    b.print_table()
    b.print_scaling()
    if b.startup_rows:
        print()
        print(f"start-up to the first embedding on disk ({os.path.basename(a.startup_image)}), medians of "
              f"{a.rounds} interleaved runs after one untimed run of each:")
        b.print_startup_table()
    notes = [f"{k}: {v}" for k, v in ARCH_NOTES.items() if k in {Variant(s, a.models).arch for s, _ in a.arch_list}]
    if notes:
        print("; ".join(notes))
    failed = [r for r in b.rows + b.startup_rows if r.get("errors") or ("check" in r and not r["check"]["ok"])]
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "settings": settings, "command": shlex.join(sys.argv), "rows": b.rows,
                       "startup": b.startup_rows}, f, indent=1)
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
    # The start-up comparison's preprocessing against OpenAI's preprocess outputs.
    pix, _ = ct.read_safetensors(os.path.join(data, "preprocess", "pixels.safetensors"))
    worst = 0.0
    for key, ref in pix.items():
        name, _, size = key.rpartition("@")
        got = ct.preprocess_image(os.path.join(data, "images", name), int(size))
        worst = max(worst, float((got - ref).abs().max()))
    good = worst <= 1e-6
    ok &= good
    print(f"clip_torch.preprocess_image on the {len(pix)} images of tests/data/preprocess: max abs diff "
          f"{worst:.2e} ({'within' if good else 'NOT within'} 1e-6)")
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
                   help="comma-separated model folders under --models, each optionally with a weight variant "
                        "'@fp16', '@bf16' or '@int8' and limited to some tasks with ':task+task' "
                        "(default: %(default)s)")
    p.add_argument("--tasks", default="load,image,text",
                   help="comma-separated subset of load,image,text,startup (startup: process start to the first "
                        "image embedding on disk, `clipkit embed` against `clip_torch.py embed`)")
    p.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    p.add_argument("--threads", default="2",
                   help="clipkit threads, and torch's unless --torch-threads; a comma-separated list (e.g. 1,2) "
                        "runs every row at each count and prints the scaling")
    p.add_argument("--torch-threads", type=int, help="torch threads when different from --threads")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row (default 3)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed iterations per run (default 2, as clipkit bench: clipkit's workspace grows in "
                        "the first pass and is consolidated into one block, first touched, in the second)")
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
    p.add_argument("--int8-min-cos", type=float, default=0.99,
                   help="@int8 rows: the least cosine to torch float32 accepted (default %(default)s)")
    p.add_argument("--startup-image", default=os.path.join(ROOT, "tests", "data", "images", "rocket.jpg"),
                   help="the photo of the startup task (default: tests/data/images/rocket.jpg)")
    p.add_argument("--clipkit-embed-args", default="", help="extra arguments for clipkit embed (startup task)")
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
        Variant(name, a.models)  # rejects an unknown @variant now rather than after the sgemm runs
    a.task_list = [x for x in a.tasks.split(",") if x]
    bad = set(a.task_list) - {"load", "image", "text", "startup"}
    if bad:
        p.error(f"unknown task(s): {', '.join(sorted(bad))}")
    try:
        a.batch_sizes = [int(x) for x in a.batches.split(",") if x]
    except ValueError:
        p.error("--batches takes comma-separated integers")
    if not a.batch_sizes or min(a.batch_sizes) < 1 or a.rounds < 1:
        p.error("batch sizes and --rounds must be positive")
    try:
        a.thread_list = [int(x) for x in a.threads.split(",") if x]
    except ValueError:
        p.error("--threads takes an integer or comma-separated integers")
    if not a.thread_list or min(a.thread_list) < 1:
        p.error("--threads must be positive")
    a.threads = a.thread_list[0]  # the count --check-fixtures and --sweep-torch use
    a.clipkit = os.path.abspath(a.clipkit)
    if a.check_fixtures:
        return check_fixtures(a)
    if a.sweep_torch:
        return sweep_torch(a)
    return run_compare(a)


if __name__ == "__main__":
    sys.exit(main())
