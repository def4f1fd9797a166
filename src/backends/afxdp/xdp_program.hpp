// The XDP side of an afxdp port: our own redirect program, its XSKMAP, and
// the BPF link that attaches it to the interface.
//
// Why not libxdp's default program: libxdp attaches it through its
// multi-program dispatcher, which pins state under /sys/fs/bpf; a process
// killed with SIGKILL leaves the pins and the program behind, and the next
// run trips over them. A BPF link (Linux 5.9+, BPF_LINK_CREATE with
// BPF_XDP) is owned by its fd: when the last fd closes, however the process
// ended, the kernel detaches the program. Nothing to clean up, ever.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aether/backends/afxdp_port.hpp"
#include "aether/core/result.hpp"
#include "file_descriptor.hpp"

namespace aether::backends::afxdp {

// An XSKMAP plus the program that redirects into it:
//
//   r2 = ctx->rx_queue_index
//   r1 = &xskmap
//   r3 = XDP_PASS                  ; flags: the action if the slot is empty
//   r0 = bpf_redirect_map(r1, r2, r3)
//   exit
//
// Frames on queues without a socket go on to the kernel stack (XDP_PASS in
// the low bits of the flags is the fallback action, Linux 5.3+,
// include/uapi/linux/bpf.h, bpf_redirect_map).
class XdpProgram {
 public:
  // Creates the map (`map_entries` slots: queue indices 0..map_entries-1)
  // and loads the program. Errors carry the verifier log if it refused.
  [[nodiscard]] static Result<XdpProgram> create(std::uint32_t map_entries, const std::string& interface);

  XdpProgram() = default;

  // Points slot `queue` at an AF_XDP socket; from then on that queue's
  // frames are redirected to it.
  [[nodiscard]] Result<void> insert_socket(std::uint32_t queue, int socket_fd) const;
  // Empties slot `queue` (frames pass to the stack again). Ignores errors:
  // called on teardown, where the map goes away right after.
  void remove_socket(std::uint32_t queue) const noexcept;

  [[nodiscard]] int program_fd() const noexcept { return program_.get(); }
  [[nodiscard]] int map_fd() const noexcept { return map_.get(); }

  // The instructions, for tests and for the log. Map fd patched in.
  [[nodiscard]] static std::vector<bpf_insn> instructions(int map_fd);

 private:
  // Declaration order: the program (which holds a reference on the map) is
  // closed before the map.
  FileDescriptor map_;
  FileDescriptor program_;
};

enum class AttachedMode : std::uint8_t { native, generic };
[[nodiscard]] const char* to_string(AttachedMode mode) noexcept;

// A BPF link attaching an XdpProgram to an interface. Closing it (the
// destructor, or the process dying) detaches the program.
class XdpLink {
 public:
  // mode=native or generic: that mode or an error saying why not.
  // mode=automatic: native, else generic; the reason native was refused is
  // appended to `notes`.
  [[nodiscard]] static Result<XdpLink> attach(const XdpProgram& program, int ifindex, const std::string& interface,
                                              XdpAttachMode mode, std::vector<std::string>& notes);

  XdpLink() = default;
  [[nodiscard]] AttachedMode mode() const noexcept { return mode_; }
  [[nodiscard]] bool attached() const noexcept { return link_.valid(); }
  void detach() noexcept { link_.reset(); }

 private:
  XdpLink(FileDescriptor link, AttachedMode mode) noexcept : link_(std::move(link)), mode_(mode) {}
  FileDescriptor link_;
  AttachedMode mode_ = AttachedMode::generic;
};

// The id of the XDP program attached to `ifindex` in any mode, 0 if none
// (bpf_xdp_query). For messages and tests.
[[nodiscard]] std::uint32_t attached_xdp_program_id(int ifindex) noexcept;

}  // namespace aether::backends::afxdp
