#!/usr/bin/env python3
"""Prints, as JSON, the machine and build a reproduction ran on (tools/reproduce.sh writes it to
DIR/environment.json and run.py copies it into results.json):

    environment.py --cformer BIN --root REPO [--threads T]

commit (with "-dirty" when the work tree has changes), date (UTC), nproc (the `nproc` command: the cores
this process may use), cpu_model (/proc/cpuinfo's first "model name"), blas (the kernel OpenBLAS runs in
cformer: `cformer list env`, after cformer's start-up has set OPENBLAS_CORETYPE where OpenBLAS did not
recognise the CPU; for a binary without that command, openblas_get_corename() of the libopenblas it links),
openblas_coretype and gomp_spincount (as the cformer process sees them, set by the user or by cformer),
blas_config (openblas_get_config(), from the same place), threads, omp_num_threads, omp_wait_policy, build_type (CMAKE_BUILD_TYPE
of the build). A value that cannot be read is null, never a guess.
"""
import argparse
import ctypes
import datetime
import json
import os
import re
import subprocess


def output(cmd, cwd=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def first_value(path, prefix, sep):
    """The text after `sep` on the first line of `path` that starts with `prefix`, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(sep, 1)[1].strip()
    except OSError:
        pass
    return None


def openblas(binary):
    """(corename, config) of the libopenblas `binary` links, or (None, None)."""
    libs = output(["ldd", binary]) or ""
    for m in re.finditer(r"=>\s*(\S*blas\S*)", libs):
        try:
            lib = ctypes.CDLL(os.path.realpath(m.group(1)))
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode(), lib.openblas_get_config().decode()
        except (OSError, AttributeError):
            continue
    return None, None


def cformer_env(binary):
    """`cformer list env` as {name: value} (its tab-separated lines), or {} where the binary lacks it."""
    text = output([binary, "list", "env"]) or ""
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line and not line.startswith("plan\t"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cformer", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    commit = output(["git", "rev-parse", "HEAD"], cwd=args.root)
    if commit and output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=args.root):
        commit += "-dirty"
    core, config = openblas(args.cformer)
    env = cformer_env(args.cformer)
    core, config = env.get("openblas_core", core), env.get("openblas_config", config)
    coretype = env.get("OPENBLAS_CORETYPE", os.environ.get("OPENBLAS_CORETYPE"))
    info = {
        "commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": int(output(["nproc"]) or 0) or None,
        "cpu_model": first_value("/proc/cpuinfo", "model name", ":"),
        "blas": core or (f"{coretype} (OPENBLAS_CORETYPE)" if coretype else None),
        "openblas_coretype": coretype,
        "blas_config": config,
        "gomp_spincount": env.get("GOMP_SPINCOUNT", os.environ.get("GOMP_SPINCOUNT")),
        "threads": args.threads or "the recipes'",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "build_type": first_value(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.cformer))),
                                               "CMakeCache.txt"), "CMAKE_BUILD_TYPE:", "="),
    }
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
