/*
 * aether-dpdk-pinger: a small DPDK 22.11 program that measures round trips
 * the way `aether bench latency` does, so DPDK can play the generator's role
 * against Aether's echo responder (and against testpmd, for the DPDK-only
 * baseline) in the same run. Written against Debian's dpdk-dev; one memif
 * port (or any vdev), one lcore, busy polling, TSC timestamps.
 *
 * Probes are 64-byte Ethernet/IPv4/UDP frames whose payload is Aether's
 * ProbePayload (include/aether/measure/latency_generator.hpp): magic,
 * sequence, due tick, 2 reserved bytes, packed. A reply is any frame that
 * carries a payload with the magic and a sequence not yet answered, so a
 * MAC-swapping responder (testpmd macswap) and a full UDP echo (Aether)
 * both work.
 *
 *   aether-dpdk-pinger EAL-ARGS -- --rate R --probes N --warmup W --out FILE
 *                                  [--timeout-ms T] [--drain-ms D] [--fifo PRIO]
 *
 * --fifo makes the polling (main) thread SCHED_FIFO after EAL's start-up,
 * so EAL's own threads (interrupt, telemetry) stay SCHED_OTHER: made FIFO
 * from outside before they start, they inherit it, and on a CPU where a
 * FIFO poller of the same priority spins (testpmd's) they never run again,
 * not even to let the process exit.
 *
 * --rate 0 is closed loop (one probe in flight). At a fixed rate each round
 * trip counts from when its probe was due (no coordinated omission). Every
 * recorded round trip goes to FILE as a little-endian uint64 of nanoseconds;
 * one JSON line of counters goes to stdout. Exit 0 on a completed run, 1 on
 * a setup error (printed to stderr), 2 on bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define PROBE_MAGIC 0xae7e1a7eu
#define FRAME_SIZE 64
#define BURST 32
#define RING_SIZE 1024

struct __attribute__((packed)) probe_payload {
  uint32_t magic;
  uint64_t sequence;
  uint64_t due_tick;
  uint16_t reserved;
};
_Static_assert(sizeof(struct probe_payload) == 22, "Aether's ProbePayload is 22 bytes");
#define HEADERS (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))
_Static_assert(HEADERS + sizeof(struct probe_payload) == FRAME_SIZE, "a 64-byte frame without FCS");

struct options {
  double rate;
  uint64_t probes;
  uint64_t warmup;
  uint64_t timeout_ms;
  uint64_t drain_ms;
  unsigned long fifo;  /* 0: leave the scheduling alone */
  const char* out;
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int signal_number) {
  (void)signal_number;
  stop_requested = 1;
}

static int parse_options(int argc, char** argv, struct options* options) {
  options->rate = 0;
  options->probes = 10000;
  options->warmup = 1000;
  options->timeout_ms = 100;
  options->drain_ms = 200;
  options->fifo = 0;
  options->out = NULL;
  for (int i = 0; i < argc; ++i) {
    const char* key = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    if (value == NULL) {
      fprintf(stderr, "aether-dpdk-pinger: %s needs a value\n", key);
      return -1;
    }
    char* end = NULL;
    errno = 0;
    if (strcmp(key, "--out") == 0) {
      options->out = value;
    } else if (strcmp(key, "--rate") == 0) {
      options->rate = strtod(value, &end);
    } else if (strcmp(key, "--probes") == 0) {
      options->probes = strtoull(value, &end, 10);
    } else if (strcmp(key, "--warmup") == 0) {
      options->warmup = strtoull(value, &end, 10);
    } else if (strcmp(key, "--timeout-ms") == 0) {
      options->timeout_ms = strtoull(value, &end, 10);
    } else if (strcmp(key, "--drain-ms") == 0) {
      options->drain_ms = strtoull(value, &end, 10);
    } else if (strcmp(key, "--fifo") == 0) {
      options->fifo = strtoul(value, &end, 10);
    } else {
      fprintf(stderr, "aether-dpdk-pinger: unknown option '%s' (known: --rate --probes --warmup --out --timeout-ms --drain-ms --fifo)\n", key);
      return -1;
    }
    if (end != NULL && (*end != '\0' || errno != 0 || end == value)) {
      fprintf(stderr, "aether-dpdk-pinger: %s: '%s' is not a number\n", key, value);
      return -1;
    }
    ++i;
  }
  if (options->out == NULL || options->probes == 0 || options->rate < 0 || options->fifo > 99) {
    fprintf(stderr, "aether-dpdk-pinger: give --out FILE and --probes N > 0 (--rate >= 0, --fifo 1..99)\n");
    return -1;
  }
  return 0;
}

/* Ethernet/IPv4/UDP 10.77.0.1:9000 -> 10.77.0.2:9000, the addresses the
 * bench uses for memif; the IPv4 checksum is computed, UDP's is 0 (none). */
static void write_headers(uint8_t* frame) {
  struct rte_ether_hdr* eth = (struct rte_ether_hdr*)frame;
  const struct rte_ether_addr source = {{0x02, 0, 0, 0, 0, 0x01}};
  const struct rte_ether_addr destination = {{0x02, 0, 0, 0, 0, 0x02}};
  rte_ether_addr_copy(&destination, &eth->dst_addr);
  rte_ether_addr_copy(&source, &eth->src_addr);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  struct rte_ipv4_hdr* ip = (struct rte_ipv4_hdr*)(eth + 1);
  memset(ip, 0, sizeof *ip);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(FRAME_SIZE - sizeof(struct rte_ether_hdr));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 77, 0, 1));
  ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 77, 0, 2));
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  struct rte_udp_hdr* udp = (struct rte_udp_hdr*)(ip + 1);
  udp->src_port = rte_cpu_to_be_16(9000);
  udp->dst_port = rte_cpu_to_be_16(9000);
  udp->dgram_len = rte_cpu_to_be_16(FRAME_SIZE - sizeof(struct rte_ether_hdr) - sizeof(struct rte_ipv4_hdr));
  udp->dgram_cksum = 0;
}

struct run {
  uint64_t sent, received, unexpected, late_send_max_ticks, first_send, last_reply, recorded;
  uint64_t* samples_ns;
  uint8_t* answered;
};

static int send_probe(uint16_t port, struct rte_mempool* pool, uint64_t sequence, uint64_t due, struct run* run) {
  struct rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == NULL) return 0;
  uint8_t* frame = (uint8_t*)rte_pktmbuf_append(m, FRAME_SIZE);
  write_headers(frame);
  struct probe_payload probe = {PROBE_MAGIC, sequence, due, 0};
  memcpy(frame + HEADERS, &probe, sizeof probe);
  if (rte_eth_tx_burst(port, 0, &m, 1) != 1) {
    rte_pktmbuf_free(m);  /* not taken: the same probe goes again */
    return 0;
  }
  const uint64_t now = rte_rdtsc();
  if (run->sent == 0) run->first_send = now;
  if (now > due && now - due > run->late_send_max_ticks) run->late_send_max_ticks = now - due;
  ++run->sent;
  return 1;
}

/* Takes what arrived; returns how many probes it answered. */
static unsigned receive(uint16_t port, const struct options* options, uint64_t next_sequence, double ns_per_tick,
                        struct run* run) {
  struct rte_mbuf* burst[BURST];
  const uint16_t count = rte_eth_rx_burst(port, 0, burst, BURST);
  if (count == 0) return 0;
  const uint64_t arrived = rte_rdtsc();
  unsigned answered = 0;
  for (uint16_t i = 0; i < count; ++i) {
    struct probe_payload probe;
    if (rte_pktmbuf_data_len(burst[i]) < FRAME_SIZE) {
      ++run->unexpected;
      continue;
    }
    memcpy(&probe, rte_pktmbuf_mtod_offset(burst[i], uint8_t*, HEADERS), sizeof probe);
    if (probe.magic != PROBE_MAGIC || probe.sequence >= next_sequence || run->answered[probe.sequence]) {
      ++run->unexpected;
      continue;
    }
    run->answered[probe.sequence] = 1;
    ++run->received;
    ++answered;
    run->last_reply = arrived;
    if (probe.sequence >= options->warmup && arrived >= probe.due_tick) {
      run->samples_ns[run->recorded++] = (uint64_t)((double)(arrived - probe.due_tick) * ns_per_tick);
    }
  }
  rte_pktmbuf_free_bulk(burst, count);
  return answered;
}

static int wait_for_link(uint16_t port) {
  for (int i = 0; i < 1000 && !stop_requested; ++i) {
    struct rte_eth_link link;
    if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) return 0;
    rte_delay_ms(10);
  }
  return -1;
}

int main(int argc, char** argv) {
  const int eal_args = rte_eal_init(argc, argv);
  if (eal_args < 0) {
    fprintf(stderr, "aether-dpdk-pinger: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  struct options options;
  /* argv[eal_args] is the "--" EAL stopped at. */
  if (parse_options(argc - eal_args - 1, argv + eal_args + 1, &options) != 0) return 2;
  if (options.fifo > 0) {
    /* This thread only: EAL's threads already exist and keep SCHED_OTHER. */
    const struct sched_param param = {.sched_priority = (int)options.fifo};
    const int error = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
    if (error != 0) {
      fprintf(stderr, "aether-dpdk-pinger: --fifo %lu: %s\n", options.fifo, strerror(error));
      return 1;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (rte_eth_dev_count_avail() == 0) {
    fprintf(stderr, "aether-dpdk-pinger: no port: give one with --vdev (e.g. net_memif,role=client,socket=NAME)\n");
    return 1;
  }
  const uint16_t port = 0;
  struct rte_mempool* pool = rte_pktmbuf_pool_create("pinger", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  if (pool == NULL || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, RING_SIZE, (unsigned)rte_socket_id(), NULL, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, RING_SIZE, (unsigned)rte_socket_id(), NULL) != 0 || rte_eth_dev_start(port) != 0) {
    fprintf(stderr, "aether-dpdk-pinger: cannot set up port 0: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  if (wait_for_link(port) != 0) {
    fprintf(stderr, "aether-dpdk-pinger: port 0 link still down after 10 s (is the responder listening?)\n");
    return 1;
  }
  const uint64_t total = options.warmup + options.probes;
  struct run run;
  memset(&run, 0, sizeof run);
  run.samples_ns = calloc(options.probes, sizeof *run.samples_ns);
  run.answered = calloc(total, 1);
  if (run.samples_ns == NULL || run.answered == NULL) {
    fprintf(stderr, "aether-dpdk-pinger: out of memory for %" PRIu64 " probes\n", total);
    return 1;
  }
  const uint64_t hz = rte_get_tsc_hz();
  const double ns_per_tick = 1e9 / (double)hz;
  const uint64_t period = options.rate > 0 ? (uint64_t)((double)hz / options.rate) : 0;
  const uint64_t timeout = options.timeout_ms * hz / 1000;
  uint64_t next = 0, in_flight_since = 0;
  int in_flight = 0;
  const uint64_t start = rte_rdtsc();
  while (!stop_requested && next < total) {
    const uint64_t now = rte_rdtsc();
    if (period == 0) {
      if (in_flight && now - in_flight_since >= timeout) in_flight = 0; /* lost: counted at the end */
      if (!in_flight && send_probe(port, pool, next, now, &run)) {
        ++next;
        in_flight = 1;
        in_flight_since = now;
      }
    } else {
      const uint64_t due = start + next * period;
      if (now >= due && send_probe(port, pool, next, due, &run)) ++next;
    }
    if (receive(port, &options, next, ns_per_tick, &run) > 0 && run.answered[next - 1]) in_flight = 0;
  }
  const uint64_t drain_end = rte_rdtsc() + options.drain_ms * hz / 1000;
  while (!stop_requested && run.received < run.sent && rte_rdtsc() < drain_end) receive(port, &options, next, ns_per_tick, &run);

  FILE* out = fopen(options.out, "wb");
  if (out == NULL || fwrite(run.samples_ns, sizeof *run.samples_ns, run.recorded, out) != run.recorded || fclose(out) != 0) {
    fprintf(stderr, "aether-dpdk-pinger: cannot write %s: %s\n", options.out, strerror(errno));
    return 1;
  }
  const uint64_t end = run.received > 0 ? run.last_reply : rte_rdtsc();
  printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"unexpected\": %" PRIu64
         ", \"recorded\": %" PRIu64 ", \"late_send_ns_max\": %" PRIu64 ", \"elapsed_ns\": %" PRIu64
         ", \"interrupted\": %s}\n",
         run.sent, run.received, run.sent - run.received, run.unexpected, run.recorded,
         (uint64_t)((double)run.late_send_max_ticks * ns_per_tick),
         end > run.first_send ? (uint64_t)((double)(end - run.first_send) * ns_per_tick) : 0,
         stop_requested ? "true" : "false");
  fflush(stdout);
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  free(run.samples_ns);
  free(run.answered);
  rte_eal_cleanup();
  return 0;
}
