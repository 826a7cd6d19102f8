#!/usr/bin/python3
"""Where clipkit's forward pass spends its time: perf profiles of `clipkit bench`, per tower and
batch size, summarised as tables (bench/PROFILE.md is made of them; bench/profile.sh runs this).

Method, for every tower and batch size:

1. One `clipkit bench` process (warm-up pass(es), then timed passes) runs under
   `perf record -e cpu-clock -c P -k CLOCK_MONOTONIC --call-graph dwarf`, i.e. a sample of every
   thread each P ns of CPU time it uses, with the user stack for unwinding. oneDNN writes
   /tmp/perf-<pid>.map (DNNL_JIT_PROFILE=2), so its JIT-generated code is named in the samples
   (jit_avx_gemm_f32_xbyak_gemm, jit_avx2_kernel_sgemm_kern, ...): every one of these is a GEMM
   kernel. JIT code has no unwind tables, so such samples have no callers; they are attributed to
   layers through step 2.
2. The same process runs with bench/gemm_trace.so preloaded (LD_PRELOAD): every dnnl_sgemm /
   dnnl_gemm_u8s8s32 / cblas_sgemm call is timed (wall and thread CPU time, CLOCK_MONOTONIC start)
   with its M, N, K, the leading dimension of C and its call stack. The call stack names the
   clipkit function that asked for the product (CpuBackend::linear, the convolution's
   CpuBackend::gemm, attention's per-head products), and (K, ldc) name the layer: for a
   transformer of width W and MLP width F, qkv is K=W, ldc=3W; out_proj K=W, ldc=W; fc1 K=W,
   ldc=F; fc2 K=F, ldc=W (ldc is the full output width, so this holds however the product was
   split into blocks for the threads).
3. Only the timed passes count: the window is the sum of the reported forward times, ending at
   the end of the last GEMM call (the projection, the last op of a tower). Load, warm-up and
   exit are outside it.
4. Every sample in the window is put in one class by its leaf and callers: GEMM (JIT code,
   libdnnl, libopenblas, below the interposed call), attention, LayerNorm, activation (the fused
   GELU/QuickGELU epilogue), BatchNorm, im2col, pooling, the linear layer's other epilogue work
   (bias rows, residual adds), the thread pool and kernel, the tracer's own bookkeeping (dropped
   from the shares), other. The GEMM class is split by layer in proportion to the CPU time the
   tracer measured per layer in the same window; attention's own products go to attention.
5. Achieved rate per layer kind = its FLOPs (2·M·N·K summed over its calls) / its CPU time, i.e.
   GFLOP/s per thread, against the single-thread sgemm peak measured here (oneDNN's dnnl_sgemm,
   4096³, best of 3; the same with all threads for the whole-pass figure).

Examples:
  bench/profile.sh                                   # every table of bench/PROFILE.md, rewritten there
  /usr/bin/python3 bench/profile.py --rows ViT-B-32:image --batches 1 --md /tmp/p.md
  /usr/bin/python3 bench/profile.py peak --threads 1
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import cpu_model  # noqa: E402  (the one machine description of the bench scripts)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DEFAULT_ROWS = "ViT-B-32:image,ViT-L-14:image,RN50:image,ViT-L-14:text,ViT-H-14:text,ViT-bigG-14:text"
TOWER_NOTES = {("ViT-L-14", "text"): "Stable Diffusion 1.x's text encoder",
               ("ViT-H-14", "text"): "Stable Diffusion 2.x's text encoder",
               ("ViT-bigG-14", "text"): "SDXL's second text encoder"}
MARK_BEGIN = "<!-- profile tables: begin (bench/profile.sh rewrites this part) -->"
MARK_END = "<!-- profile tables: end -->"


# --------------------------------------------------------------------------------------------
# sgemm peak (oneDNN through ctypes; no torch in this process)
# --------------------------------------------------------------------------------------------

def cmd_peak(a: argparse.Namespace) -> int:
    """Prints {"threads", "n", "onednn_gflops_best", "onednn_gflops_median",
    "onednn_gflops_per_cpu_s_best"}: dnnl_sgemm on n x n float32 matrices, by wall time and by the
    CPU time of this process (all its threads). Run in a process whose OMP_NUM_THREADS is --threads
    (oneDNN threads by OpenMP). On one thread the CPU-time rate is what a core achieves whatever
    else the host runs: the figure to compare the per-thread rates of the profiles with."""
    import ctypes

    import numpy as np
    lib = ctypes.CDLL("libdnnl.so.2")
    f = lib.dnnl_sgemm
    dim = ctypes.c_int64
    f.argtypes = [ctypes.c_char, ctypes.c_char, dim, dim, dim, ctypes.c_float, ctypes.c_void_p, dim,
                  ctypes.c_void_p, dim, ctypes.c_float, ctypes.c_void_p, dim]
    f.restype = ctypes.c_int
    n = a.n
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n), dtype=np.float32)
    y = rng.standard_normal((n, n), dtype=np.float32)
    z = np.zeros((n, n), dtype=np.float32)
    p = [m.ctypes.data for m in (x, y, z)]
    flop = 2.0 * n ** 3

    def once() -> Tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        st = f(b"N", b"N", n, n, n, 1.0, p[0], n, p[1], n, 0.0, p[2], n)
        t1, c1 = time.perf_counter(), time.process_time()
        if st != 0:
            raise SystemExit(f"dnnl_sgemm failed with status {st}")
        return flop / (t1 - t0) / 1e9, flop / max(c1 - c0, 1e-9) / 1e9

    once()  # warm-up: JIT, thread start, first touch of the output
    runs = [once() for _ in range(a.reps)]
    wall = [w for w, _ in runs]
    print(json.dumps({"threads": a.threads, "n": n, "reps": a.reps, "onednn_gflops_best": max(wall),
                      "onednn_gflops_median": statistics.median(wall),
                      "onednn_gflops_per_cpu_s_best": max(c for _, c in runs)}))
    return 0


def measure_peak(threads: int, n: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "peak", "--threads", str(threads),
                        "--n", str(n)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sgemm peak measurement failed: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Symbols of the clipkit binary (for the tracer's call sites)
# --------------------------------------------------------------------------------------------

class Symbols:
    def __init__(self, binary: str):
        out = subprocess.run(["nm", "-C", "-n", "--defined-only", binary], capture_output=True,
                             text=True, check=True).stdout
        self.addr: List[int] = []
        self.name: List[str] = []
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in ("t", "T", "W", "w"):
                self.addr.append(int(parts[0], 16))
                self.name.append(parts[2])

    def lookup(self, offset: int) -> str:
        i = bisect.bisect_right(self.addr, offset - 1) - 1  # a return address points past the call
        return self.name[i] if i >= 0 else "?"


# --------------------------------------------------------------------------------------------
# The tracer's output
# --------------------------------------------------------------------------------------------

class Trace:
    def __init__(self, path: str, binary: str, syms: Symbols):
        self.sites: Dict[int, List[str]] = {}
        self.calls: List[tuple] = []  # (lib, m, n, k, ldc, start, wall, cpu, tid, site)
        real = os.path.realpath(binary)
        with open(path) as f:
            for line in f:
                if line.startswith("site "):
                    parts = line.split()
                    names = []
                    for fr in parts[2:]:
                        obj, _, off = fr.rpartition("+0x")
                        names.append(syms.lookup(int(off, 16)) if os.path.realpath(obj) == real
                                     else os.path.basename(obj))
                    self.sites[int(parts[1])] = names
                elif line.startswith("call "):
                    p = line.split()
                    self.calls.append((p[1],) + tuple(int(x) for x in p[2:]))
                elif line.startswith("#") and "dropped" in line:
                    dropped = int(line.split("dropped")[1])
                    if dropped:
                        print(f"warning: the tracer dropped {dropped} calls", file=sys.stderr)


def tower_dims(cfg, task: str) -> dict:
    """Widths that name the layers of the tower that runs."""
    if task == "text":
        t = cfg.text
        return {"W": t.width, "F": t.mlp_width, "E": cfg.embed_dim, "resnet": False, "text": True}
    v = cfg.vision
    if v.is_resnet:
        return {"W": None, "F": None, "E": cfg.embed_dim, "C": v.width * 32, "resnet": True, "text": False}
    return {"W": v.width, "F": v.mlp_width, "E": cfg.embed_dim, "resnet": False, "text": False}


def gemm_kind(site: List[str], m: int, k: int, ldc: int, dims: dict, batch: int) -> str:
    """The layer a GEMM call belongs to, from the clipkit functions on its stack and its shape.
    Linear layers with their own weights go through CpuBackend::linear; plain products (the
    convolutions, the towers' final projection) through CpuBackend::gemm, whose blocks run in
    pooled_gemm on every thread."""
    joined = "\n".join(site)
    if "attention_head" in joined or "CpuBackend::attention" in joined:
        return "attention"
    if "CpuBackend::linear" in joined:
        if dims["resnet"]:
            return "attnpool" if k == dims["C"] else "linear (other)"
        w, f = dims["W"], dims["F"]
        if k == f and ldc == w:
            return "fc2"
        if k == w and ldc == 3 * w:
            return "qkv"
        if k == w and ldc == f:
            return "fc1"
        if k == w and ldc == w:
            return "out_proj"
        return "linear (other)"
    if "pooled_gemm" in joined or "CpuBackend::gemm" in joined:
        if dims["text"]:
            return "projection"  # the text tower has no other plain product
        if not dims["resnet"] and k == dims["W"] and ldc == dims["E"] and m <= batch:
            return "projection"  # one pooled row per image
        return "conv"
    return "gemm (other)"


# --------------------------------------------------------------------------------------------
# perf samples
# --------------------------------------------------------------------------------------------

_HEAD = re.compile(r"^\s*(\d+)/(\d+)\s+(\d+)\.(\d+):")
_FRAME = re.compile(r"^\s*([0-9a-f]+)\s+(.*)\s+\((.*)\)\s*$")
INTERPOSED = {"dnnl_sgemm", "dnnl_gemm_u8s8s32", "cblas_sgemm"}


def read_samples(script_out: str):
    """Yields (pid, tid, time_ns, [(symbol, dso), ...] leaf first)."""
    cur = None
    for line in script_out.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur = None
            continue
        h = _HEAD.match(line)
        if h:
            if cur:
                yield cur
            frac = h.group(4).ljust(9, "0")[:9]
            cur = (int(h.group(1)), int(h.group(2)), int(h.group(3)) * 1_000_000_000 + int(frac), [])
            continue
        fm = _FRAME.match(line)
        if fm and cur:
            cur[3].append((fm.group(2), fm.group(3)))
    if cur:
        yield cur


def is_gemm_dso(dso: str) -> bool:
    base = os.path.basename(dso)
    return (base.startswith("perf-") and base.endswith(".map")) or dso.startswith("[JIT]") or \
        "libdnnl" in base or "libopenblas" in base or "libmkl" in base


KERNEL = "[kernel.kallsyms]"


def classify(frames: List[Tuple[str, str]]) -> str:
    """The class of one sample from its stack (leaf first). Kernel frames (interrupts, page faults,
    system calls) are charged to the user code below them, except page faults, which are a class
    of their own (they mean memory touched for the first time, e.g. a fresh allocation)."""
    if not frames:
        return "other"
    dsos = [d for _, d in frames]
    # The tracer's own work (backtrace, clocks, bookkeeping) is not the engine's.
    for s, d in frames:
        if "gemm_trace" in d:
            if s not in INTERPOSED:
                return "tracer"
            break
    if "libgcc_s" in dsos[0] and any("gemm_trace" in d for d in dsos):
        return "tracer"
    kernel = [s for s, d in frames if d == KERNEL]
    user = [(s, d) for s, d in frames if d != KERNEL]
    if any("page_fault" in s for s in kernel):
        return "page faults"
    if not user:
        return "threads & kernel"
    usyms = [s for s, _ in user]
    if is_gemm_dso(user[0][1]):
        # OpenBLAS's own server threads, idle since clipkit calls oneDNN, are not GEMM work.
        if "libopenblas" in user[0][1] and not any(s in INTERPOSED for s in usyms):
            return "threads & kernel"
        return "gemm"
    for s in usyms:
        if "CpuBackend::attention" in s or "attention_head" in s or "CpuBackend::softmax" in s:
            return "attention"
        if "CpuBackend::layernorm" in s:
            return "layernorm"
        if "apply_activation" in s or "gelu" in s.lower() or "CpuBackend::activation" in s:
            return "activation"
        if "CpuBackend::batchnorm" in s:
            return "batchnorm"
        if "im2col" in s:
            return "im2col"
        if "avgpool" in s:
            return "pooling"
        if "CpuBackend::add" in s:
            return "residual add"
        if "float_block" in s or "CpuBackend::linear" in s or "quantize_row" in s or "widen_rows" in s:
            return "linear epilogue"
        if "ThreadPool" in s or "sched_yield" in s or "futex" in s or "pthread_cond" in s or \
                "pthread_mutex" in s:
            return "threads & kernel"
    if kernel or any("libopenblas" in d for d in dsos):
        return "threads & kernel"
    return "other"


# --------------------------------------------------------------------------------------------
# One profile
# --------------------------------------------------------------------------------------------

# The tracer's single-threaded GEMM library calls (the rest are oneDNN primitives).
LIBRARY_GEMMS = ("sgemm", "igemm", "cblas")


class Intervals:
    """The traced calls as time intervals: which call a thread was inside at a given time."""

    def __init__(self, calls: List[tuple]):
        per_tid: Dict[int, List[Tuple[int, int, int]]] = defaultdict(list)
        prims: List[Tuple[int, int, int]] = []
        for i, c in enumerate(calls):
            iv = (c[5], c[5] + c[6], i)
            per_tid[c[8]].append(iv)
            if c[0] not in LIBRARY_GEMMS:
                prims.append(iv)
        self.per_tid = {t: sorted(v) for t, v in per_tid.items()}
        self.starts = {t: [iv[0] for iv in v] for t, v in self.per_tid.items()}
        self.prims = sorted(prims)
        self.prim_starts = [iv[0] for iv in self.prims]

    def covering(self, tid: int, t: int) -> Optional[int]:
        """The call thread `tid` was inside at time t (calls on one thread do not nest)."""
        lst = self.per_tid.get(tid)
        if not lst:
            return None
        j = bisect.bisect_right(self.starts[tid], t) - 1
        return lst[j][2] if j >= 0 and lst[j][1] >= t else None

    def covering_primitive(self, t: int) -> Optional[int]:
        """A primitive call in progress at time t on any thread (the latest started)."""
        j = bisect.bisect_right(self.prim_starts, t) - 1
        for jj in range(j, max(-1, j - 8), -1):
            if self.prims[jj][1] >= t:
                return self.prims[jj][2]
        return None


def profile_one(a: argparse.Namespace, arch: str, task: str, batch: int, syms: Symbols) -> dict:
    import clip_torch as ct
    model = os.path.join(a.models, arch)
    cfg, _ = ct.resolve_model(model)
    flops_item = ct.image_flops(cfg) if task == "image" else ct.text_flops(cfg)
    est_s = flops_item * batch / a.rate_guess
    if a.iters:
        iters = a.iters
    elif batch == 1:
        iters = int(min(20, max(3, round(a.target_s / est_s))))
    else:
        iters = int(min(3, max(1, round(a.target_s / est_s))))
    cpu_ns = a.threads * est_s * (iters + a.warmup) * 1e9 * 1.5 + 2e9
    period = int(max(a.min_period_us * 1000, cpu_ns / a.max_samples))
    os.makedirs(a.workdir, exist_ok=True)
    tag = f"{arch}_{task}_b{batch}"
    data = os.path.join(a.workdir, tag + ".perf.data")
    trace = os.path.join(a.workdir, tag + ".gemm.txt")
    cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-c", str(period), "-k", "CLOCK_MONOTONIC",
           "--call-graph", f"dwarf,{a.stack_bytes}", "-o", data, "--",
           "env", f"LD_PRELOAD={a.tracer}", f"GEMM_TRACE_OUT={trace}", "DNNL_JIT_PROFILE=2",
           a.clipkit, "bench", "--model", model, "--task", task, "--batch", str(batch),
           "--warmup", str(a.warmup), "--iters", str(iters), "--threads", str(a.threads)]
    cmd += a.clipkit_args
    print(f"  {tag}: {iters} timed pass(es), 1 sample per {period / 1e6:.2f} ms of CPU", flush=True)
    load0 = os.getloadavg()[0]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\nfailed: {r.stderr.strip()[-2000:]}")
    times = None
    for line in reversed(r.stdout.splitlines()):
        if line.strip().startswith("{"):
            times = json.loads(line)["times_ms"]
            break
    if not times:
        raise SystemExit(f"no times from clipkit bench: {r.stdout[-500:]}")
    tr = Trace(trace, a.clipkit, syms)
    if not tr.calls:
        raise SystemExit(f"{trace}: no GEMM calls recorded (is {a.tracer} preloaded?)")
    tids = {c[8] for c in tr.calls}
    window_end = max(c[5] + c[6] for c in tr.calls)
    window_start = window_end - int(sum(times) * 1e6)

    # The layer kind of every call, and the calls' intervals per thread.
    dims = tower_dims(cfg, task)
    kind_of: Dict[tuple, str] = {}
    call_kind: List[str] = []
    for what, m, n, k, ldc, start, wall, cpu, tid, site in tr.calls:
        if what in LIBRARY_GEMMS or what in ("matmul", "ip"):
            key = (site, m, k, ldc)
            if key not in kind_of:
                kind_of[key] = gemm_kind(tr.sites.get(site, []), m, k, ldc, dims, batch)
            call_kind.append(kind_of[key])
        else:
            call_kind.append({"conv": "conv", "reorder": "reorder"}.get(what, "onednn other"))
    ivs = Intervals(tr.calls)

    sc = subprocess.run(["perf", "script", "-i", data, "-F", "pid,tid,time,ip,sym,dso", "--ns",
                         "--no-inline"], capture_output=True, text=True)
    if sc.returncode != 0:
        raise SystemExit(f"perf script failed: {sc.stderr[-1000:]}")
    by_class: Dict[str, int] = defaultdict(int)
    kind_samples: Dict[str, int] = defaultdict(int)
    library_samples = 0  # inside the single-threaded GEMM library calls (the tracer's cross-check)
    detail: Dict[str, Dict[str, int]] = {c: defaultdict(int) for c in ("other", "threads & kernel", "page faults")}
    real_clipkit = os.path.realpath(a.clipkit)
    pid = None
    for spid, tid, t, frames in read_samples(sc.stdout):
        if pid is None and tid in tids:
            pid = spid
        if spid != pid or not (window_start <= t <= window_end):
            continue
        cls = classify(frames)
        if cls != "tracer":
            # Inside a traced call the thread runs that call (the timer brackets only the real
            # call); a primitive's OpenMP helpers are matched by time alone.
            i = ivs.covering(tid, t)
            if i is None and cls == "gemm":
                i = ivs.covering_primitive(t)
            if i is not None:
                kind = call_kind[i]
                kind_samples[kind] += 1
                if tr.calls[i][0] in LIBRARY_GEMMS:
                    library_samples += 1
                cls = ("attention gemm" if kind == "attention" else
                       "onednn reorder" if kind == "reorder" else "gemm:" + kind)
            elif cls == "gemm":
                cls = "gemm:untraced"
        by_class[cls] += 1
        if cls in detail and frames:
            own = next((s for s, d in frames if os.path.realpath(d) == real_clipkit), "-")
            detail[cls][f"{frames[0][0][:60]} < {own[:80]}"] += 1
    if not a.keep:
        os.remove(data)
    if pid and os.path.exists(f"/tmp/perf-{pid}.map"):
        os.remove(f"/tmp/perf-{pid}.map")

    # Per layer kind: FLOPs of the calls in the window, and their CPU time: the tracer's for the
    # single-threaded library GEMMs (exact), the samples' for primitives (which may also run on
    # OpenMP helper threads).
    kinds: Dict[str, dict] = {}
    library_cpu = 0
    for i, (what, m, n, k, ldc, start, wall, cpu, tid, site) in enumerate(tr.calls):
        if not (window_start <= start and start + wall <= window_end):
            continue
        d = kinds.setdefault(call_kind[i], {"calls": 0, "cpu_ns": 0, "wall_ns": 0, "flops": 0,
                                            "library_calls_only": True, "shapes": defaultdict(int)})
        d["calls"] += 1
        d["cpu_ns"] += cpu
        d["wall_ns"] += wall
        d["flops"] += 2 * m * n * k
        d["shapes"][f"{what} {m}x{n}x{k}"] += 1
        if what in LIBRARY_GEMMS:
            library_cpu += cpu
        else:
            d["library_calls_only"] = False
    counted = sum(n for c, n in by_class.items() if c != "tracer")
    shares = {c: n / counted for c, n in by_class.items() if c != "tracer"} if counted else {}
    for kind, d in kinds.items():
        d["samples"] = kind_samples.get(kind, 0)
        cpu_ns = d["cpu_ns"] if d["library_calls_only"] else d["samples"] * period
        d["cpu_used_ns"] = cpu_ns
        d["gflops_per_thread"] = d["flops"] / cpu_ns if (cpu_ns and d["flops"]) else None
        d["shapes"] = dict(sorted(d["shapes"].items(), key=lambda kv: -kv[1])[:6])
    fwd_ms = statistics.median(times)
    return {"arch": arch, "task": task, "batch": batch, "iters": iters, "warmup": a.warmup,
            "threads": a.threads, "times_ms": times, "forward_ms": fwd_ms,
            "flops_per_pass": flops_item * batch, "pass_gflops": flops_item * batch / (fwd_ms * 1e6),
            "sample_period_ns": period, "samples_in_window": counted,
            "tracer_samples": by_class.get("tracer", 0), "classes": dict(by_class), "shares": shares,
            # CPU time used over the window: how many threads were busy on average (idle waits in
            # the pool and time the host gave to other processes do not appear in the shares).
            "threads_busy": sum(by_class.values()) * period / (window_end - window_start),
            # The share of the library GEMM calls, by samples inside them and by the tracer's clock.
            "gemm_share_perf": library_samples / counted if counted else None,
            "gemm_share_trace": library_cpu / (counted * period) if counted else None,
            "gemm": kinds, "loadavg_start": load0, "loadavg_end": os.getloadavg()[0],
            "top_leaves": {c: dict(sorted(v.items(), key=lambda kv: -kv[1])[:12]) for c, v in detail.items()},
            "command": " ".join(cmd[cmd.index("--") + 1:])}


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

ROW_LABELS = [("gemm:qkv", "GEMM qkv"), ("gemm:out_proj", "GEMM out_proj"), ("gemm:fc1", "GEMM fc1"),
              ("gemm:fc2", "GEMM fc2"), ("gemm:conv", "GEMM conv"),
              ("gemm:attnpool", "GEMM attention pool (q, k, v, c_proj)"),
              ("gemm:projection", "GEMM projection"), ("gemm:linear (other)", "GEMM other linear"),
              ("gemm:gemm (other)", "GEMM other"),
              ("gemm:onednn other", "oneDNN other primitives"),
              ("gemm:untraced", "oneDNN / BLAS code outside traced calls"),
              ("onednn reorder", "oneDNN reorders (layout changes)"),
              ("attention gemm", "attention: QKᵀ and PV through the GEMM library"),
              ("attention", "attention kernel (softmax, masking, copies; all of it when fused)"),
              ("layernorm", "LayerNorm"), ("activation", "activation (GELU, QuickGELU, ReLU)"),
              ("batchnorm", "BatchNorm (+ReLU)"), ("im2col", "im2col"), ("pooling", "average pooling"),
              ("residual add", "residual add (ResNet)"),
              ("linear epilogue", "linear epilogue (bias rows, residual add)"),
              ("page faults", "page faults (first touch of memory)"),
              ("threads & kernel", "thread pool wake/wait, kernel"), ("other", "other")]


def fmt_pct(x: Optional[float]) -> str:
    return "-" if x is None or x == 0 else (f"{100 * x:.1f}" if x >= 0.0005 else "<0.1")


def table_md(results: List[dict], peak1: float, peakt: float) -> str:
    """One table for one tower: rows = time classes, columns per batch size."""
    res = sorted(results, key=lambda r: r["batch"])
    head = ["part"]
    for r in res:
        head += [f"b{r['batch']} % time", f"b{r['batch']} GFLOP/s/thread", f"b{r['batch']} % of peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|"]

    def gemm_entry(r: dict, kind: str):
        d = r["gemm"].get(kind)
        if not d:
            return "", ""
        if not d.get("gflops_per_thread"):
            return "-", "-"
        g = d["gflops_per_thread"]
        return f"{g:.1f}", f"{100 * g / peak1:.0f}"

    for key, label in ROW_LABELS:
        if all(r["shares"].get(key, 0) == 0 for r in res):
            continue
        cells = [label]
        for r in res:
            cells.append(fmt_pct(r["shares"].get(key)))
            if key.startswith("gemm:") or key == "attention gemm":
                g, p = gemm_entry(r, "attention" if key == "attention gemm" else key[5:])
            else:
                g, p = "", ""
            cells += [g, p]
        lines.append("| " + " | ".join(cells) + " |")
    # Totals.
    cells = ["**all GEMMs** (attention's included)"]
    for r in res:
        products = [d for kind, d in r["gemm"].items() if d["flops"]]
        fl = sum(d["flops"] for d in products)
        cpu = sum(d.get("cpu_used_ns", d["cpu_ns"]) for d in products)
        share = sum(v for k, v in r["shares"].items()
                    if (k.startswith("gemm:") and k != "gemm:onednn other") or k == "attention gemm")
        g = fl / cpu if cpu else 0
        cells += [f"**{fmt_pct(share)}**", f"**{g:.1f}**", f"**{100 * g / peak1:.0f}**"]
    lines.append("| " + " | ".join(cells) + " |")
    cells = ["whole pass: median ms; GFLOP/s per CPU-second; % of peak"]
    for r in res:
        cpu_s = r["samples_in_window"] * r["sample_period_ns"] / 1e9
        g = r["flops_per_pass"] * r["iters"] / cpu_s / 1e9 if cpu_s else 0
        cells += [f"{r['forward_ms']:.1f} ms", f"{g:.1f}", f"{100 * g / peak1:.0f}"]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(all_results: List[dict], meta: dict) -> str:
    out = []
    p1 = meta["peak_1"].get("onednn_gflops_per_cpu_s_best")
    p1_unit = "GFLOP/s per CPU-second"
    if not p1:  # a run from before the CPU-time measurement
        p1, p1_unit = meta["peak_1"]["onednn_gflops_best"], "GFLOP/s (wall)"
    pt = meta["peak_t"]["onednn_gflops_best"]
    out.append(f"clipkit {meta['engine']}, "
               f"{meta['cpu']}, {meta['threads']} threads, {meta['date']}. sgemm peak (oneDNN "
               f"`dnnl_sgemm` {meta['peak_n']}³, best of 3): {p1:.1f} {p1_unit} on 1 thread, "
               f"{pt:.1f} GFLOP/s (wall) on {meta['threads']}. Load average {meta['loadavg_start']:.1f} "
               f"at the start, {meta['loadavg_end']:.1f} at the end.")
    out.append("")
    out.append("% time: share of the CPU time of the timed passes (all threads). GFLOP/s/thread: the "
               "layer's FLOPs over the CPU time of its GEMM calls; % of peak: against the 1-thread "
               "sgemm peak (both per CPU-second, so a busy host changes neither much). Whole pass: "
               "the median forward time, and the analytic FLOPs of the timed passes over all the CPU "
               "time they used, against the same peak. Under each table, the wall-clock view: the "
               "analytic FLOPs over the median forward time, against "
               f"{meta['threads']} x the 1-thread peak (what {meta['threads']} idle cores could do), and the "
               "CPU time of the window over its wall time (\"threads busy\"); both depend on what else "
               "the host runs.")
    groups: Dict[Tuple[str, str], List[dict]] = defaultdict(list)
    order: List[Tuple[str, str]] = []
    for r in all_results:
        key = (r["arch"], r["task"])
        if key not in groups:
            order.append(key)
        groups[key].append(r)
    for arch, task in order:
        note = TOWER_NOTES.get((arch, task))
        out.append("")
        out.append(f"### {arch} {task}" + (f" ({note})" if note else ""))
        out.append("")
        out.append(table_md(groups[(arch, task)], p1, pt))
        rs = groups[(arch, task)]
        ideal = meta["threads"] * p1
        checks = "; ".join(f"b{r['batch']}: {r['pass_gflops']:.1f} GFLOP/s ({100 * r['pass_gflops'] / ideal:.0f} % of "
                           f"{ideal:.0f}), {r['threads_busy']:.2f} threads busy, library GEMM calls "
                           f"{100 * (r['gemm_share_perf'] or 0):.1f} % of the time by samples / "
                           f"{100 * (r['gemm_share_trace'] or 0):.1f} % by the tracer, {r['samples_in_window']} samples"
                           for r in sorted(rs, key=lambda r: r["batch"]))
        out.append("")
        out.append(f"Wall clock and checks: {checks}.")
    return "\n".join(out) + "\n"


def update_markdown(path: str, body: str) -> None:
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{MARK_BEGIN}\n\n{body}\n{MARK_END}"
    if MARK_BEGIN in text and MARK_END in text:
        pre = text[:text.index(MARK_BEGIN)]
        post = text[text.index(MARK_END) + len(MARK_END):]
        text = pre + block + post
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + block + "\n"
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def git(*args: str) -> str:
    r = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True)
    return r.stdout.strip()


def cmd_run(a: argparse.Namespace) -> int:
    sys.path.insert(0, HERE)
    if not shutil.which("perf"):
        raise SystemExit("perf is not installed (Debian: linux-perf)")
    for path, what in ((a.clipkit, "clipkit binary"), (a.tracer, "tracer (bench/profile.sh builds it)")):
        if not os.path.isfile(path):
            raise SystemExit(f"{what} not found: {path}")
    rows = []
    for x in filter(None, a.rows.split(",")):
        arch, _, task = x.partition(":")
        if task not in ("image", "text"):
            raise SystemExit(f"--rows entries are ARCH:image or ARCH:text, got '{x}'")
        rows.append((arch, task))
    batches = [int(b) for b in a.batches.split(",") if b]
    if a.label:
        engine = a.label
    else:
        dirty = bool(git("status", "--porcelain", "--", "src", "apps", "include", "CMakeLists.txt"))
        engine = f"`{git('rev-parse', '--short', 'HEAD')}`" + (" with uncommitted changes" if dirty else "")
    meta = {"engine": engine,
            "cpu": cpu_model(), "threads": a.threads, "date": time.strftime("%Y-%m-%d"),
            "peak_n": a.peak_n, "loadavg_start": os.getloadavg()[0]}
    print(f"sgemm peak (oneDNN, {a.peak_n}^3) ...", flush=True)
    meta["peak_1"] = measure_peak(1, a.peak_n)
    meta["peak_t"] = measure_peak(a.threads, a.peak_n) if a.threads != 1 else meta["peak_1"]
    print(f"  1 thread {meta['peak_1']['onednn_gflops_best']:.1f} GFLOP/s "
          f"({meta['peak_1']['onednn_gflops_per_cpu_s_best']:.1f} per CPU-second), {a.threads} threads "
          f"{meta['peak_t']['onednn_gflops_best']:.1f} GFLOP/s", flush=True)
    syms = Symbols(a.clipkit)
    results = []
    for arch, task in rows:
        if not os.path.isdir(os.path.join(a.models, arch)):
            print(f"{a.models}/{arch}: missing; create it with bench/make_weights.py {arch}", file=sys.stderr)
            continue
        for b in batches:
            results.append(profile_one(a, arch, task, b, syms))
    meta["loadavg_end"] = os.getloadavg()[0]
    body = render(results, meta)
    print()
    print(body)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
    if a.md:
        update_markdown(a.md, body)
        print(f"tables written to {a.md}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    pk = sub.add_parser("peak", help="oneDNN sgemm rate (set OMP_NUM_THREADS to --threads)")
    pk.add_argument("--threads", type=int, default=1)
    pk.add_argument("--n", type=int, default=4096)
    pk.add_argument("--reps", type=int, default=3)
    p.add_argument("--clipkit", default=os.path.join(ROOT, "build", "release", "clipkit"))
    p.add_argument("--tracer", default=os.path.join(ROOT, "build", "release", "gemm_trace.so"),
                   help="bench/gemm_trace.c built as a shared library")
    p.add_argument("--models", default=os.path.join(HERE, "models"))
    p.add_argument("--rows", default=DEFAULT_ROWS, help="comma-separated ARCH:image|text (default: %(default)s)")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed passes (default 2: the workspace grows block by block in the first pass and "
                        "is consolidated into one block, touched for the first time, in the second)")
    p.add_argument("--iters", type=int, help="timed passes (default: about --target-s seconds, 3-20 at "
                                               "batch 1, 1-3 above)")
    p.add_argument("--target-s", type=float, default=3.0)
    p.add_argument("--rate-guess", type=float, default=60e9, help="FLOP/s used to size the runs")
    p.add_argument("--max-samples", type=int, default=30000, help="sample period chosen to stay below this")
    p.add_argument("--min-period-us", type=int, default=250)
    p.add_argument("--stack-bytes", type=int, default=16384, help="user stack copied per sample for unwinding")
    p.add_argument("--peak-n", type=int, default=4096)
    p.add_argument("--clipkit-args", nargs=argparse.REMAINDER, default=[],
                   help="extra arguments for clipkit bench (last option)")
    p.add_argument("--workdir", default=os.path.join(HERE, "results", "tmp", "profile"))
    p.add_argument("--keep", action="store_true", help="keep the perf.data files in --workdir")
    p.add_argument("--label", help="what the clipkit binary is, for the tables (default: this checkout's "
                                   "commit, noting uncommitted changes to the engine)")
    p.add_argument("--json", help="write every figure to this file")
    p.add_argument("--md", help="write the tables into this markdown file between the profile markers")
    p.add_argument("--render", metavar="JSON", help="only print (and with --md write) the tables of an earlier "
                                                     "run's --json file")
    a = p.parse_args(argv)
    if a.cmd == "peak":
        return cmd_peak(a)
    if a.render:
        with open(a.render) as f:
            saved = json.load(f)
        body = render(saved["results"], saved["meta"])
        print(body)
        if a.md:
            update_markdown(a.md, body)
        return 0
    a.clipkit = os.path.abspath(a.clipkit)
    a.tracer = os.path.abspath(a.tracer)
    return cmd_run(a)


if __name__ == "__main__":
    sys.exit(main())
