#!/usr/bin/env python3
"""CPU per argon2id verify in libsodium — the library Dovecot 2.3's {ARGON2ID}
scheme calls (crypto_pwhash_str_verify) — through ctypes, standard library only.

Input (stdin, JSON): {"pairs": [{"hash": "$argon2id$v=19$m=...", "password": ...}], "rounds": 2}
Output (stdout, JSON): {"n", "ok" (verifies that matched), "cpu_ms_per_verify",
  "wall_ms_per_verify", "library"}. One thread, as Dovecot's auth process runs it.
"""
import ctypes
import ctypes.util
import json
import sys
import time


def main():
    spec = json.load(sys.stdin)
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        raise SystemExit("sodium_init failed")
    verify = lib.crypto_pwhash_str_verify
    verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    verify.restype = ctypes.c_int
    pairs = [(p["hash"].encode(), p["password"].encode()) for p in spec["pairs"]] * int(spec.get("rounds", 1))
    ok = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for h, pw in pairs:
        ok += verify(h, pw, len(pw)) == 0
    c1, w1 = time.process_time(), time.perf_counter()
    n = len(pairs)
    json.dump({"n": n, "ok": ok, "cpu_ms_per_verify": (c1 - c0) * 1000 / n, "wall_ms_per_verify": (w1 - w0) * 1000 / n, "library": name}, sys.stdout)


if __name__ == "__main__":
    main()
