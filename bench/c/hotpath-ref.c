/*
 * hotpath-ref.c — the C yardstick for `dpsim bench hotpath --mode ebpf`: the same per-packet
 * work as the eBPF datapath's batch entry point (src/proxy/ebpf/datapath.ts `hotpath`), written
 * as plainly as C allows, on one core. `npm run bench` (bench/hotpath-vs-c.bench.ts) compiles it
 * with `cc -O2` into a temporary directory when a C compiler exists and reports dpsim's packet
 * rate as a ratio of this program's, measured in interleaved rounds on the same frames.
 *
 * Per frame (54-byte Ethernet/IPv4/TCP; the frames come from a file dpsim's workload wrote):
 *   parse      EtherType IPv4, version/IHL 0x45, protocol TCP (anything else is skipped)
 *   CT lookup  CT_SERVICE key {VIP, client, sport<<16|dport, TCP | SERVICE<<8} in an
 *              open-addressing table laid out like dpsim's BpfInlineHashMap: 8-word slots
 *              (4 key + 4 value words, two per 64-byte line), a control byte per slot (tag),
 *              homes on even slots chosen by multiply-shift range reduction, linear probing,
 *              the same 32-bit hash of the four key words
 *   miss       service lookup, random backend (xorshift % count + 1), CT insert
 *   hit        lifetime refresh and packet count of the CT value (Cilium's ct refresh)
 *   backend    backend id → {addr, port, present} array, present checked
 *   DNAT       destination address and port into the output buffer, IPv4 and TCP checksums
 *              patched incrementally (RFC 1624 eqn. 3)
 *
 * Run shape, as src/bench/hotpath.ts runShard: a verification pass (every frame once, outputs'
 * checksums and backends checked, CT entries created), a warm-up pass, then PASSES timed passes
 * of PACKETS packets each, walking the frames in chunks of BATCH into a small scratch output
 * buffer, the frames reshuffled (untimed) before each pass; then a second verification pass.
 *
 * Usage: hotpath-ref FRAMES_FILE PACKETS PASSES [BATCH [CAPACITY]]
 * CAPACITY is the CT table's max entries (default: one per flow); pass the eBPF CT map's size
 * (Cilium's default 524288) for the same table dpsim walks: its few live entries then lie
 * scattered over many cache lines and pages, as in the preallocated kernel map.
 * Prints one JSON line: {"impl":"c","flows":F,"packets":N,"passes":P,"passPps":[..],
 * "passCpuPps":[..],"verified":V}. Exit 1 on a wrong output frame, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 54
#define IP 14
#define L4 34
#define PROTO_TCP 6
#define TUPLE_SERVICE 4
#define SEEN_NON_SYN 0x0001u /* CtEntryFlag values as in src/proxy/ebpf/layouts.ts */
#define CLOSING 0x0006u
#define SERVICE_LIFETIME 8000u
#define SYN_TIMEOUT 60u
#define TCP_SYN 0x02
#define NOW 1000u

static uint32_t rng = 0x9e3779b9u;
static inline uint32_t xorshift32(void) {
    uint32_t x = rng;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    return rng = x;
}

static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = v >> 8; p[1] = v; }

/* The four-word flow hash of src/maps/flow-hash.ts fastHash4 (same constants, same result). */
static inline uint32_t hash4(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, uint32_t seed) {
    uint32_t h = (w0 ^ seed) * 0x9e3779b1u + w1 * 0x85ebca77u + (w2 ^ (w2 >> 16)) * 0xc2b2ae3du + w3 * 0x27d4eb2fu;
    h ^= h >> 15; h *= 0x2c1b3c6du; h ^= h >> 13;
    return h;
}

/* ---- the CT_SERVICE table ---- */
#define SLOT_WORDS 8
static uint32_t *slots;      /* slot s: words [8s, 8s+8): key 0..3, value 4..7 */
static uint8_t *ctrl;        /* 0 empty, else 0x80 | tag (6 hash bits) */
static uint32_t n_buckets, n_slots;
static const uint32_t SEED = 0x2f6b1d35u;

/* ---- the service and its backends ---- */
static uint32_t svc_addr, svc_port, n_backends;
static uint32_t *backends; /* id i (1..n): words [3i, 3i+3): addr, port, present */

static inline uint32_t home_of(uint32_t h) { return (uint32_t)(((uint64_t)h * n_buckets) >> 32) * 2; }

/* Slot of the key, or -1. */
static inline int64_t ct_lookup(uint32_t k0, uint32_t k1, uint32_t k2, uint32_t k3, uint32_t h) {
    uint8_t tag = 0x80 | (h & 0x3f);
    uint32_t s = home_of(h);
    for (;;) {
        uint8_t c = ctrl[s];
        if (c == 0) return -1;
        if (c == tag) {
            const uint32_t *e = slots + (size_t)s * SLOT_WORDS;
            if (e[0] == k0 && e[1] == k1 && e[2] == k2 && e[3] == k3) return s;
        }
        s = s + 1 == n_slots ? 0 : s + 1;
    }
}

static int64_t ct_insert(uint32_t k0, uint32_t k1, uint32_t k2, uint32_t k3, uint32_t h) {
    uint32_t s = home_of(h);
    while (ctrl[s] != 0) s = s + 1 == n_slots ? 0 : s + 1;
    ctrl[s] = 0x80 | (h & 0x3f);
    uint32_t *e = slots + (size_t)s * SLOT_WORDS;
    e[0] = k0; e[1] = k1; e[2] = k2; e[3] = k3;
    e[4] = e[5] = e[6] = e[7] = 0;
    return s;
}

static inline uint32_t fold(uint32_t s) {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return s == 0 ? 0 : ~s & 0xffff;
}

/* One frame through the datapath; writes the translated fields at the same offset of out. */
static inline int process(const uint8_t *f, uint8_t *o) {
    if (rd16(f + 12) != 0x0800 || f[IP] != 0x45 || f[IP + 9] != PROTO_TCP) return 0;
    uint32_t daddr = rd32(f + IP + 16), saddr = rd32(f + IP + 12), ports = rd32(f + L4);
    uint32_t k3 = PROTO_TCP | TUPLE_SERVICE << 8;
    uint32_t h = hash4(daddr, saddr, ports, k3, SEED);
    int64_t s = ct_lookup(daddr, saddr, ports, k3, h);
    uint32_t *v;
    if (s < 0) {
        /* miss: service lookup, random backend, CT_SERVICE insert */
        if (daddr != svc_addr || (ports & 0xffff) != svc_port) return 0;
        s = ct_insert(daddr, saddr, ports, k3, h);
        v = slots + (size_t)s * SLOT_WORDS + 4;
        v[1] = 1u << 16; /* rev-NAT index 1 */
        v[2] = xorshift32() % n_backends + 1;
    }
    v = slots + (size_t)s * SLOT_WORDS + 4;
    /* CT_SERVICE refresh: lifetime, SEEN_NON_SYN, packet count */
    uint32_t flags = v[1];
    if ((flags & (CLOSING | SEEN_NON_SYN)) == SEEN_NON_SYN) v[0] = NOW + SERVICE_LIFETIME;
    else {
        uint8_t tcp_flags = f[L4 + 13];
        if ((flags & CLOSING) == CLOSING) v[0] = NOW + 10;
        else if (!(flags & SEEN_NON_SYN) && !(tcp_flags & TCP_SYN)) { v[1] = flags | SEEN_NON_SYN; v[0] = NOW + SERVICE_LIFETIME; }
        else v[0] = NOW + ((flags & SEEN_NON_SYN) ? SERVICE_LIFETIME : SYN_TIMEOUT);
    }
    v[3] += 1;
    uint32_t id = v[2];
    if (id == 0 || id > n_backends || backends[3 * id + 2] == 0) return 0;
    uint32_t baddr = backends[3 * id], bport = backends[3 * id + 1];
    /* DNAT with RFC 1624 incremental checksums */
    uint32_t dport = ports & 0xffff;
    wr32(o + IP + 16, baddr);
    wr16(o + L4 + 2, bport);
    uint32_t d = (~daddr >> 16 & 0xffff) + (~daddr & 0xffff) + (baddr >> 16) + (baddr & 0xffff);
    wr16(o + IP + 10, fold((~rd16(f + IP + 10) & 0xffff) + d));
    wr16(o + L4 + 16, fold((~rd16(f + L4 + 16) & 0xffff) + d + (~dport & 0xffff) + bport));
    return 1;
}

static uint32_t sum16(const uint8_t *p, int len, uint32_t s) {
    for (int i = 0; i + 1 < len; i += 2) s += rd16(p + i);
    return s;
}
static uint32_t fold_full(uint32_t s) { while (s >> 16) s = (s & 0xffff) + (s >> 16); return s; }

/* Every frame once into a full copy; checksums and backend checked. Returns frames checked or -1. */
static long verify(uint8_t *frames, uint32_t nframes, uint8_t *copy) {
    memcpy(copy, frames, (size_t)nframes * FRAME);
    for (uint32_t i = 0; i < nframes; i++) {
        const uint8_t *f = frames + (size_t)i * FRAME;
        uint8_t *o = copy + (size_t)i * FRAME;
        if (!process(f, o)) return -1;
        if (fold_full(sum16(o + IP, 20, 0)) != 0xffff) return -1;
        uint32_t s = sum16(o + IP + 12, 8, 0) + PROTO_TCP + 20;
        if (fold_full(sum16(o + L4, 20, s)) != 0xffff) return -1;
        if (rd16(o + L4 + 2) != backends[3 * 1 + 1]) return -1;
    }
    return nframes;
}

static void shuffle(uint8_t *frames, uint32_t n) {
    uint8_t tmp[FRAME];
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = xorshift32() % (i + 1);
        if (j == i) continue;
        memcpy(tmp, frames + (size_t)i * FRAME, FRAME);
        memcpy(frames + (size_t)i * FRAME, frames + (size_t)j * FRAME, FRAME);
        memcpy(frames + (size_t)j * FRAME, tmp, FRAME);
    }
}

static double secs(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: hotpath-ref FRAMES_FILE PACKETS PASSES [BATCH [CAPACITY]]\n"); return 2; }
    long packets = atol(argv[2]), passes = atol(argv[3]), batch = argc > 4 ? atol(argv[4]) : 256;
    long capacity = argc > 5 ? atol(argv[5]) : 0;
    if (packets < 1 || passes < 1 || passes > 1000 || batch < 1 || capacity < 0 || capacity > (1L << 24)) { fprintf(stderr, "bad arguments\n"); return 2; }
    FILE *in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 2; }
    fseek(in, 0, SEEK_END);
    long bytes = ftell(in);
    fseek(in, 0, SEEK_SET);
    if (bytes < FRAME || bytes % FRAME != 0) { fprintf(stderr, "%s: not a whole number of %d-byte frames\n", argv[1], FRAME); return 2; }
    uint32_t nframes = (uint32_t)(bytes / FRAME);
    uint8_t *frames = malloc(bytes), *copy = malloc(bytes), *scratch = malloc((size_t)batch * FRAME);
    if (!frames || !copy || !scratch || fread(frames, 1, bytes, in) != (size_t)bytes) { fprintf(stderr, "read failed\n"); return 2; }
    fclose(in);
    memcpy(scratch, frames, (size_t)(batch < nframes ? batch : nframes) * FRAME);

    /* The workload's service (src/bench/workload.ts): 10.96.0.10:80, 16 endpoints on 8080. */
    svc_addr = rd32(frames + IP + 16);
    svc_port = rd16(frames + L4 + 2);
    n_backends = 16;
    backends = calloc(3 * (n_backends + 1), 4);
    for (uint32_t i = 1; i <= n_backends; i++) {
        backends[3 * i] = 0x0af40000u | ((i - 1) % 2) << 8 | (10 + ((i - 1) >> 1));
        backends[3 * i + 1] = 8080;
        backends[3 * i + 2] = 1;
    }
    /* CT table: ≥ 1.25 slots per flow, in buckets of two 32-byte slots (one cache line). */
    uint32_t entries = capacity > nframes ? (uint32_t)capacity : nframes;
    uint32_t min_slots = entries + 1 > entries + entries / 4 ? entries + 1 : entries + entries / 4;
    n_buckets = (min_slots + 1) / 2;
    n_slots = n_buckets * 2;
    if (posix_memalign((void **)&slots, 64, (size_t)n_slots * SLOT_WORDS * 4) != 0) return 2;
    memset(slots, 0, (size_t)n_slots * SLOT_WORDS * 4);
    ctrl = calloc(n_slots, 1);

    long verified = verify(frames, nframes, copy);
    if (verified < 0) { fprintf(stderr, "hotpath-ref: wrong output frame in the first verification pass\n"); return 1; }
    double *wall = malloc(passes * sizeof(double)), *cpu = malloc(passes * sizeof(double));
    long sink = 0;
    for (long p = -1; p < passes; p++) {
        long todo = p < 0 ? (packets < 2L * nframes ? packets : 2L * nframes) : packets; /* p < 0: warm-up */
        if (p >= 0) shuffle(frames, nframes);
        double t0 = secs(CLOCK_MONOTONIC), c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
        uint32_t at = 0;
        while (todo > 0) {
            uint32_t n = nframes - at < batch ? nframes - at : (uint32_t)batch;
            if (n > todo) n = (uint32_t)todo;
            const uint8_t *chunk = frames + (size_t)at * FRAME;
            for (uint32_t i = 0; i < n; i++) sink += process(chunk + (size_t)i * FRAME, scratch + (size_t)i * FRAME);
            todo -= n;
            at = at + n == nframes ? 0 : at + n;
        }
        if (p >= 0) {
            wall[p] = secs(CLOCK_MONOTONIC) - t0;
            cpu[p] = secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    long again = verify(frames, nframes, copy);
    if (again < 0) { fprintf(stderr, "hotpath-ref: wrong output frame in the last verification pass\n"); return 1; }
    printf("{\"impl\":\"c\",\"flows\":%u,\"capacity\":%u,\"packets\":%ld,\"passes\":%ld,\"translated\":%ld,\"passPps\":[", nframes, entries, packets, passes, sink);
    for (long p = 0; p < passes; p++) printf("%s%.0f", p ? "," : "", packets / wall[p]);
    printf("],\"passCpuPps\":[");
    for (long p = 0; p < passes; p++) printf("%s%.0f", p ? "," : "", packets / (cpu[p] > 1e-9 ? cpu[p] : 1e-9));
    printf("],\"verified\":%ld}\n", verified + again);
    return 0;
}
