/*
 * pycoroner's C ABI, for debugger scripts (gdb/pycoroner.py, lldb/pycoroner.py).
 *
 * The debugger hands over callbacks that read the stopped inferior; pycoroner does
 * all the CPython decoding and answers requests with JSON text. A session is one
 * view of a stopped inferior: open a new one whenever the inferior has run.
 *
 * Every entry point catches Rust panics; none of them aborts the debugger.
 * Strings are UTF-8 and NUL-terminated. Strings returned by the library are owned
 * by the caller and freed with pycoroner_free.
 */
#ifndef PYCORONER_H
#define PYCORONER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of this header or of the request protocol. */
#define PYCORONER_ABI_VERSION 1

/* One file-backed mapping of the inferior (like a line of /proc/PID/maps). */
typedef struct pycoroner_mapping {
    uint64_t start;       /* first address */
    uint64_t end;         /* one past the last address */
    uint64_t offset;      /* offset of `start` in the file */
    const char *path;     /* the file; must stay valid until pycoroner_open returns */
} pycoroner_mapping;

typedef struct pycoroner_callbacks {
    /* Passed back to every callback. */
    void *ctx;
    /* Read `len` bytes at `addr` into `buf`. 0 on success, non-zero if any byte is
     * unreadable. Called many times (pycoroner caches what it read). */
    int32_t (*read_memory)(void *ctx, uint64_t addr, uint8_t *buf, uint64_t len);
    /* Write up to `cap` mappings into `out`; return how many there are (it may be more
     * than `cap`: pycoroner then calls again with room for all), or -1 on failure. */
    int64_t (*list_mappings)(void *ctx, pycoroner_mapping *out, uint64_t cap);
    /* Write up to `cap` thread ids (LWPs) into `out`; return how many there are, or -1. */
    int64_t (*list_threads)(void *ctx, uint32_t *out, uint64_t cap);
    /* Fill `regs` with the 27 registers of thread `lwp`, in the order of Linux x86_64
     * `struct user_regs_struct` (r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi
     * rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs). 0 on success.
     * May be NULL: then native stacks and the thread-pointer match of 3.6/3.7 are off. */
    int32_t (*read_registers)(void *ctx, uint32_t lwp, uint64_t *regs);
} pycoroner_callbacks;

typedef struct pycoroner_session pycoroner_session;

/* PYCORONER_ABI_VERSION of the library: a script compares it with its own. */
uint32_t pycoroner_abi_version(void);

/* Open a session over the stopped inferior. `options_json` may be NULL or an object
 * with any of: "pid" (int), "executable" (str), "cache_dir" (str, or null for no
 * cache), "debug_dirs" ([str]), "sysroot" (str), "files" ({mapped path: file}: the
 * file the debugger loaded for a mapped path, used where that path has none, build-id
 * checked), "signal" ({"number": int, "thread": LWP, "code": int, "address": int,
 * "sender_pid": int}: the fatal signal a thread took, which makes it the crashed,
 * "Current" thread; only number and thread are required).
 * Finds the interpreter and its layout.
 * Returns NULL on failure; pycoroner_last_error then says why in one line. */
pycoroner_session *pycoroner_open(const pycoroner_callbacks *callbacks, const char *options_json);

/* The last pycoroner_open failure on this thread (caller frees), or NULL. */
char *pycoroner_last_error(void);

/* Answer one request, a JSON object with a "request" field:
 *   {"request": "py-bt", "lwp": N, "full": bool, "levels": [int]?, "from": I?,
 *    "from_level": L?, "frames": [FRAME]?, "style": S?}
 *   {"request": "py-threads", "native": "off"|"folded"|"all", "fold": bool}
 *   {"request": "py-tasks", "table": bool}
 *   {"request": "frames", "lwp": N}
 *   {"request": "frame", "lwp": N, "index": I, "level": L, "style": S?}
 *   {"request": "py-locals", "lwp": N, "index": I, "style": S?}
 *   {"request": "py-print", "lwp": N, "index": I, "name": "x", "style": S?}
 *   {"request": "py-list", "lwp": N, "index": I, "args": "10,20"}
 *   {"request": "splice", "lwp": N, "native": "folded"|"all", "frames": [FRAME]}
 *   {"request": "stops", "lwp": N, "frames": [FRAME], "style": S?}
 *     -> {"stops": [{"level": L, "python": I|null, "text": str|null}], "count": N}:
 *        where py-up/py-down stop (Python frames, and C calls CPython's script shows)
 *   {"request": "object-frames"} -> {"rules": [{"names", "prefixes", "variables"}]}:
 *        the frames whose argument (the object being called) FRAME's "object" carries
 *   {"request": "repr", "address": A, "style": S?}
 *   {"request": "report", "locals": bool, "native": "off"|"folded"|"all"}
 *   {"request": "version"}
 * FRAME is a debugger's native frame, newest first: {"function": str|null, "module":
 * str|null, "inlined": bool, "pc": int, "object": int?}. S is "libpython" (objects as
 * CPython's python3.X-gdb.py writes them, the default) or "python" (as repr()).
 * Python frame index 0 is a thread's newest frame. The answer is a JSON object:
 * {"ok": true, "text": "...", ...} or {"ok": false, "error": "one line"}.
 * Never NULL except when out of memory; the caller frees it with pycoroner_free. */
char *pycoroner_request(pycoroner_session *session, const char *request_json);

/* Free a string returned by the library. NULL is ignored. */
void pycoroner_free(char *s);

/* Close a session. NULL is ignored. */
void pycoroner_close(pycoroner_session *session);

#ifdef __cplusplus
}
#endif

#endif /* PYCORONER_H */
