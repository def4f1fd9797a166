// XDP redirect program, XSKMAP and BPF link (see xdp_program.hpp).
#include "xdp_program.hpp"

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace aether::backends::afxdp {
namespace {

// bpf(2) object names hold BPF_OBJ_NAME_LEN (16) bytes with the NUL.
constexpr const char* kProgramName = "aether_xsk";
constexpr const char* kMapName = "aether_xsks";

// BPF instruction encoding: include/uapi/linux/bpf.h and bpf_common.h
// (opcode = class | size/op | mode/source), Documentation/bpf/standardization/
// instruction-set.rst. Written out here because the BPF_* instruction macros
// live in the kernel-internal linux/filter.h, not in the UAPI headers.
bpf_insn instruction(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t offset,
                     std::int32_t immediate) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0x0f;
  insn.src_reg = src & 0x0f;
  insn.off = offset;
  insn.imm = immediate;
  return insn;
}

// A libbpf return value: the fd, or -errno (libbpf 1.x also sets errno).
int error_of(int result) noexcept { return result < 0 ? -result : 0; }

std::string privilege_hint(int error) {
  if (error == EPERM || error == EACCES) {
    return " (loading XDP programs needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN: run as root; also check "
           "kernel.unprivileged_bpf_disabled and lockdown)";
  }
  return {};
}

std::string describe_attached(int ifindex) {
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (bpf_xdp_query(ifindex, 0, &query) != 0 || query.prog_id == 0) return "another XDP program";
  const char* mode = query.attach_mode == XDP_ATTACHED_DRV   ? "native"
                     : query.attach_mode == XDP_ATTACHED_SKB ? "generic"
                     : query.attach_mode == XDP_ATTACHED_HW  ? "offloaded"
                                                             : "multiple";
  return fmt::format("XDP program id {} ({} mode)", query.prog_id, mode);
}

// One BPF_LINK_CREATE attempt; returns the link fd or -errno.
int create_link(int program_fd, int ifindex, std::uint32_t xdp_flags) {
  bpf_link_create_opts options{};
  options.sz = sizeof(options);
  options.flags = xdp_flags;  // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE (linux/if_link.h)
  const int fd = bpf_link_create(program_fd, ifindex, BPF_XDP, &options);
  return fd >= 0 ? fd : -error_of(fd);
}

Error attach_error(const std::string& interface, int ifindex, AttachedMode mode, int error) {
  std::string why;
  switch (error) {
    case EBUSY:
    case EEXIST:
      why = fmt::format("{} is already attached (one afxdp port per interface; a foreign program can be removed "
                        "with 'ip link set dev {} xdp off')",
                        describe_attached(ifindex), interface);
      break;
    case EPERM:
    case EACCES: why = "permission denied: attaching XDP needs CAP_NET_ADMIN (run as root)"; break;
    case EOPNOTSUPP:
      why = mode == AttachedMode::native ? "the driver has no native XDP support (try mode=generic or mode=auto)"
                                         : "generic XDP is not supported here";
      break;
    case EINVAL:
      why = mode == AttachedMode::native
                ? "the driver refused the program (on veth: an MTU above ~3.5 KB, or fewer rx queues than the "
                  "peer has tx queues; on a kernel older than 5.9: no XDP BPF links)"
                : "refused (a kernel older than 5.9 has no XDP BPF links, and afxdp will not fall back to a "
                  "netlink attachment that outlives a killed process)";
      break;
    default: why = std::strerror(error); break;
  }
  return Error{std::error_code(error, std::system_category()),
               fmt::format("cannot attach the XDP program to '{}' in {} mode: {}", interface, to_string(mode), why)};
}

}  // namespace

std::vector<bpf_insn> XdpProgram::instructions(int map_fd) {
  constexpr std::uint8_t kReg0 = BPF_REG_0, kReg1 = BPF_REG_1, kReg2 = BPF_REG_2, kReg3 = BPF_REG_3;
  return {
      // r2 = *(u32 *)(r1 + offsetof(struct xdp_md, rx_queue_index)); r1 = ctx on entry.
      instruction(BPF_LDX | BPF_MEM | BPF_W, kReg2, kReg1,
                  static_cast<std::int16_t>(offsetof(xdp_md, rx_queue_index)), 0),
      // r1 = map (64-bit immediate in two slots; src_reg BPF_PSEUDO_MAP_FD:
      // the verifier replaces the fd with the map pointer).
      instruction(BPF_LD | BPF_IMM | BPF_DW, kReg1, BPF_PSEUDO_MAP_FD, 0, map_fd),
      instruction(0, 0, 0, 0, 0),
      // r3 = flags = XDP_PASS: the return value when the slot is empty.
      instruction(BPF_ALU64 | BPF_MOV | BPF_K, kReg3, 0, 0, XDP_PASS),
      // r0 = bpf_redirect_map(r1, r2, r3)
      instruction(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
      // return r0
      instruction(BPF_JMP | BPF_EXIT, kReg0, 0, 0, 0),
  };
}

Result<XdpProgram> XdpProgram::create(std::uint32_t map_entries, const std::string& interface) {
  XdpProgram program;
  // XSKMAP: key = queue index (u32), value = AF_XDP socket fd (u32).
  const int map_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, kMapName, sizeof(std::uint32_t), sizeof(std::uint32_t),
                                    map_entries, nullptr);
  if (map_fd < 0) {
    const int error = error_of(map_fd);
    return errno_error(fmt::format("cannot create the XSKMAP for '{}' ({} entries){}", interface, map_entries,
                                   privilege_hint(error)),
                       error);
  }
  program.map_ = FileDescriptor(map_fd);

  const std::vector<bpf_insn> code = instructions(map_fd);
  std::vector<char> log(16 * 1024, '\0');
  bpf_prog_load_opts options{};
  options.sz = sizeof(options);
  // BPF_XDP, as libbpf sets for SEC("xdp"); link_create(BPF_XDP) expects it.
  options.expected_attach_type = BPF_XDP;
  // log_level 0 with a buffer: libbpf retries with the verifier log on
  // failure only (libbpf 1.x bpf_prog_load).
  options.log_buf = log.data();
  options.log_size = static_cast<std::uint32_t>(log.size());
  // The license only gates GPL-only helpers; bpf_redirect_map is not one.
  const int program_fd =
      bpf_prog_load(BPF_PROG_TYPE_XDP, kProgramName, "Dual BSD/GPL", code.data(), code.size(), &options);
  if (program_fd < 0) {
    const int error = error_of(program_fd);
    std::string verifier(log.data());
    while (!verifier.empty() && verifier.back() == '\n') verifier.pop_back();
    return errno_error(fmt::format("cannot load the XDP redirect program for '{}'{}{}{}", interface,
                                   privilege_hint(error), verifier.empty() ? "" : "; verifier: ", verifier),
                       error);
  }
  program.program_ = FileDescriptor(program_fd);
  return program;
}

Result<void> XdpProgram::insert_socket(std::uint32_t queue, int socket_fd) const {
  const std::uint32_t value = static_cast<std::uint32_t>(socket_fd);
  if (bpf_map_update_elem(map_.get(), &queue, &value, BPF_ANY) != 0) {
    return errno_error(fmt::format("cannot insert the AF_XDP socket into the XSKMAP at queue {}", queue));
  }
  return {};
}

void XdpProgram::remove_socket(std::uint32_t queue) const noexcept {
  if (map_.valid()) (void)bpf_map_delete_elem(map_.get(), &queue);
}

const char* to_string(AttachedMode mode) noexcept { return mode == AttachedMode::native ? "native" : "generic"; }

Result<XdpLink> XdpLink::attach(const XdpProgram& program, int ifindex, const std::string& interface,
                                XdpAttachMode mode, std::vector<std::string>& notes) {
  if (mode != XdpAttachMode::generic) {
    const int fd = create_link(program.program_fd(), ifindex, XDP_FLAGS_DRV_MODE);
    if (fd >= 0) return XdpLink(FileDescriptor(fd), AttachedMode::native);
    const int error = -fd;
    // Only a driver that cannot do native XDP is a reason to fall back; a
    // busy interface or a missing privilege would fail generic mode too.
    const bool fall_back = mode == XdpAttachMode::automatic && error != EBUSY && error != EEXIST &&
                           error != EPERM && error != EACCES;
    if (!fall_back) return attach_error(interface, ifindex, AttachedMode::native, error);
    notes.push_back(fmt::format("native XDP refused on '{}' ({}): using generic (skb) XDP, which copies every frame "
                                "into an skb first",
                                interface, attach_error(interface, ifindex, AttachedMode::native, error).message));
  }
  const int fd = create_link(program.program_fd(), ifindex, XDP_FLAGS_SKB_MODE);
  if (fd < 0) return attach_error(interface, ifindex, AttachedMode::generic, -fd);
  return XdpLink(FileDescriptor(fd), AttachedMode::generic);
}

std::uint32_t attached_xdp_program_id(int ifindex) noexcept {
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (bpf_xdp_query(ifindex, 0, &query) != 0) return 0;
  return query.prog_id;
}

}  // namespace aether::backends::afxdp
