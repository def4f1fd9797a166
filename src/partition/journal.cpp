// The apply journal: durable records of previous values (see journal.hpp).
#include "aether/partition/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "aether/core/cpu_list.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::partition {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view magic_line = "aether-partition-journal 2";
// Version 1 lacked the boot field; still read (its boot is unknown).
constexpr std::string_view magic_line_v1 = "aether-partition-journal 1";

const char* kind_word(JournalRecordKind kind) {
  switch (kind) {
    case JournalRecordKind::file:
      return "file";
    case JournalRecordKind::irq:
      return "irq";
    case JournalRecordKind::directory:
      return "directory";
    case JournalRecordKind::controller:
      return "controller";
    case JournalRecordKind::affinity:
      return "affinity";
    case JournalRecordKind::hold:
      return "hold";
  }
  return "?";
}

std::string serialize(const JournalRecord& record) {
  switch (record.kind) {
    case JournalRecordKind::file:
    case JournalRecordKind::irq:
    case JournalRecordKind::hold:
      return fmt::format("{} {} ={}\n", kind_word(record.kind), journal_escape(record.path),
                         journal_escape(record.previous));
    case JournalRecordKind::directory:
      return fmt::format("directory {}\n", journal_escape(record.path));
    case JournalRecordKind::controller:
      return fmt::format("controller {} {}\n", journal_escape(record.path), journal_escape(record.previous));
    case JournalRecordKind::affinity:
      return fmt::format("affinity {} {} ={}\n", record.tid, record.start_time, journal_escape(record.previous));
  }
  return {};
}

std::string serialize(const JournalHeader& header) {
  return fmt::format("{}\ncpus ={} housekeeping ={} kernel ={} boot ={}\n", magic_line,
                     format_cpu_list(header.aether_cpus), format_cpu_list(header.housekeeping_cpus),
                     journal_escape(header.kernel_release), journal_escape(header.boot_id));
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = line.find(' ', begin);
    words.push_back(line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return words;
    begin = end + 1;
  }
}

// "=value" -> unescaped value.
Result<std::string> value_field(std::string_view field) {
  if (!field.starts_with('=')) return invalid_argument(fmt::format("value \"{}\" lacks its '='", field));
  return journal_unescape(field.substr(1));
}

template <class Number>
Result<Number> number_field(std::string_view field) {
  Number number{};
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), number);
  if (field.empty() || error != std::errc{} || end != field.data() + field.size()) {
    return invalid_argument(fmt::format("\"{}\" is not a number", field));
  }
  return number;
}

Result<JournalRecord> parse_record(std::string_view line) {
  const auto words = split_spaces(line);
  JournalRecord record;
  auto path_from = [&](std::size_t index) -> Result<void> {
    auto path = journal_unescape(words[index]);
    if (!path) return std::move(path).error();
    record.path = std::move(*path);
    return {};
  };
  if ((words[0] == "file" || words[0] == "irq" || words[0] == "hold") && words.size() == 3) {
    record.kind = words[0] == "file"  ? JournalRecordKind::file
                  : words[0] == "irq" ? JournalRecordKind::irq
                                      : JournalRecordKind::hold;
    if (auto ok = path_from(1); !ok) return std::move(ok).error();
    auto value = value_field(words[2]);
    if (!value) return std::move(value).error();
    record.previous = std::move(*value);
  } else if (words[0] == "directory" && words.size() == 2) {
    record.kind = JournalRecordKind::directory;
    if (auto ok = path_from(1); !ok) return std::move(ok).error();
  } else if (words[0] == "controller" && words.size() == 3) {
    record.kind = JournalRecordKind::controller;
    if (auto ok = path_from(1); !ok) return std::move(ok).error();
    auto name = journal_unescape(words[2]);
    if (!name) return std::move(name).error();
    record.previous = std::move(*name);
  } else if (words[0] == "affinity" && words.size() == 4) {
    record.kind = JournalRecordKind::affinity;
    auto tid = number_field<pid_t>(words[1]);
    if (!tid) return std::move(tid).error();
    auto start = number_field<std::uint64_t>(words[2]);
    if (!start) return std::move(start).error();
    auto value = value_field(words[3]);
    if (!value) return std::move(value).error();
    record.tid = *tid;
    record.start_time = *start;
    record.previous = std::move(*value);
  } else {
    return invalid_argument("unknown record");
  }
  return record;
}

Result<JournalHeader> parse_header(std::string_view line, bool with_boot) {
  const auto words = split_spaces(line);
  if (words.size() != (with_boot ? 8u : 6u) || words[0] != "cpus" || words[2] != "housekeeping" ||
      words[4] != "kernel" || (with_boot && words[6] != "boot")) {
    return invalid_argument("malformed header");
  }
  JournalHeader header;
  for (auto [index, field] : {std::pair{1, &header.aether_cpus}, std::pair{3, &header.housekeeping_cpus}}) {
    auto text = value_field(words[static_cast<std::size_t>(index)]);
    if (!text) return std::move(text).error();
    auto cpus = parse_cpu_list(*text);
    if (!cpus) return std::move(cpus).error();
    *field = std::move(*cpus);
  }
  auto kernel = value_field(words[5]);
  if (!kernel) return std::move(kernel).error();
  header.kernel_release = std::move(*kernel);
  if (with_boot) {
    auto boot = value_field(words[7]);
    if (!boot) return std::move(boot).error();
    header.boot_id = std::move(*boot);
  }
  return header;
}

Result<void> sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error(fmt::format("cannot open directory {}", directory.native()));
  const int result = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (result != 0) return errno_error(fmt::format("fsync of directory {}", directory.native()), saved_errno);
  return {};
}

Result<void> write_all(int fd, std::string_view text, const fs::path& path) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno_error(fmt::format("cannot write journal {}", path.native()));
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// Creates `path` holding the header, atomically, in the directory the lock
// prepared. O_EXCL|O_NOFOLLOW: whatever is at the temporary name (a leftover
// of a crash, or a link planted to make root truncate its target) is removed
// rather than opened.
Result<void> create_journal_file(const fs::path& path, const JournalHeader& header) {
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path temporary = fs::path(path).concat(".new");
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("cannot remove the leftover {}", temporary.native()));
  }
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error(fmt::format("cannot create {}", temporary.native()));
  auto written = write_all(fd, serialize(header), temporary);
  if (written && ::fsync(fd) != 0) written = errno_error(fmt::format("fsync of {}", temporary.native()));
  ::close(fd);
  if (!written) return written;
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return errno_error(fmt::format("cannot rename {} to {}", temporary.native(), path.native()));
  }
  return sync_directory(directory);
}

// The whole journal; std::nullopt if it does not exist. A symbolic link is
// refused (ELOOP), not followed.
Result<std::optional<std::string>> read_journal_text(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return errno_error(fmt::format("cannot open journal {}{}", path.native(),
                                   errno == ELOOP ? " (a symbolic link: not followed)" : ""));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved_errno = errno;
      ::close(fd);
      return errno_error(fmt::format("cannot read journal {}", path.native()), saved_errno);
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

}  // namespace

std::string journal_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c <= 0x20 || c == '%' || c >= 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<std::string> journal_unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) {
      return invalid_argument(fmt::format("truncated escape in \"{}\"", text));
    }
    const auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc{} || end != text.data() + i + 3) {
      return invalid_argument(fmt::format("bad escape in \"{}\"", text));
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

Result<JournalContents> parse_journal(std::string_view text) {
  JournalContents contents;
  const std::size_t complete_end = text.rfind('\n');
  if (complete_end == std::string_view::npos) return invalid_argument("no complete line");
  contents.torn_tail = complete_end + 1 != text.size();
  text = text.substr(0, complete_end + 1);
  unsigned line_number = 0;
  bool with_boot = true;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    ++line_number;
    auto at_line = [&](const Error& error) {
      return invalid_argument(fmt::format("line {} \"{}\": {}", line_number, line, error.message));
    };
    if (line_number == 1) {
      if (line != magic_line && line != magic_line_v1) {
        return invalid_argument(fmt::format("line 1 is not \"{}\"", magic_line));
      }
      with_boot = line == magic_line;
    } else if (line_number == 2) {
      auto header = parse_header(line, with_boot);
      if (!header) return at_line(header.error());
      contents.header = std::move(*header);
    } else if (line == "complete") {
      contents.complete = true;
    } else {
      auto record = parse_record(line);
      if (!record) return at_line(record.error());
      contents.records.push_back(std::move(*record));
      contents.complete = false;
    }
  }
  if (line_number < 2) return invalid_argument("no header line");
  return contents;
}

Result<std::optional<JournalContents>> read_journal(const fs::path& path) {
  auto text = read_journal_text(path);
  if (!text) return std::move(text).error();
  if (!*text) return std::optional<JournalContents>{};
  auto contents = parse_journal(**text);
  if (!contents) return invalid_argument(fmt::format("journal {}: {}", path.native(), contents.error().message));
  return std::optional<JournalContents>(std::move(*contents));
}

Journal::Journal(JournalLock lock, fs::path path, int fd, JournalContents contents)
    : lock_(std::move(lock)), path_(std::move(path)), fd_(fd), contents_(std::move(contents)) {}

Journal::Journal(Journal&& other) noexcept
    : lock_(std::move(other.lock_)),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      contents_(std::move(other.contents_)) {}

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    lock_ = std::move(other.lock_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    contents_ = std::move(other.contents_);
  }
  return *this;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Journal> Journal::open(const fs::path& path, const JournalHeader& header) {
  auto lock = JournalLock::acquire(path);
  if (!lock) return std::move(lock).error();
  auto existing = read_journal(path);
  if (!existing) return std::move(existing).error();
  if (!*existing) {
    if (auto created = create_journal_file(path, header); !created) return std::move(created).error();
    existing = read_journal(path);
    if (!existing) return std::move(existing).error();
    if (!*existing) return errno_error(fmt::format("journal {} vanished after creation", path.native()), ENOENT);
  } else if (const auto other_boot =
                 journal_boot_mismatch((*existing)->header, BootIdentity{header.boot_id, header.kernel_release})) {
    return invalid_argument(fmt::format(
        "journal {} is from an earlier boot ({}): the reboot reset every value it holds; run `aether partition "
        "revert` (it restores nothing and removes the journal), then apply again",
        path.native(), *other_boot));
  } else if ((*existing)->header.aether_cpus != header.aether_cpus) {
    return invalid_argument(fmt::format("journal {} is for Aether CPUs {}, not {}: run `aether partition revert` first",
                                        path.native(), format_cpu_list((*existing)->header.aether_cpus),
                                        format_cpu_list(header.aether_cpus)));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error(fmt::format("cannot open journal {} to append", path.native()));
  Journal journal(std::move(*lock), path, fd, std::move(**existing));
  if (journal.contents_.torn_tail) {
    // Cut the torn record so that the next one starts on a line of its own.
    auto text = read_journal_text(path);
    if (!text) return std::move(text).error();
    const std::size_t valid_length = *text ? (*text)->rfind('\n') + 1 : 0;
    if (::ftruncate(fd, static_cast<off_t>(valid_length)) != 0 || ::fsync(fd) != 0) {
      return errno_error(fmt::format("cannot cut the torn last record of journal {}", path.native()));
    }
    journal.contents_.torn_tail = false;
  }
  return journal;
}

bool Journal::knows(const JournalRecord& record) const {
  return std::any_of(contents_.records.begin(), contents_.records.end(), [&](const JournalRecord& known) {
    if (known.kind != record.kind) return false;
    if (record.kind == JournalRecordKind::affinity) {
      return known.tid == record.tid && known.start_time == record.start_time;
    }
    return known.path == record.path;
  });
}

bool Journal::inside_created_directory(std::string_view path) const {
  return std::any_of(contents_.records.begin(), contents_.records.end(), [&](const JournalRecord& known) {
    if (known.kind != JournalRecordKind::directory || !path.starts_with(known.path)) return false;
    return path.size() == known.path.size() || path[known.path.size()] == '/';
  });
}

Result<void> Journal::append(const std::string& text) {
  if (auto written = write_all(fd_, text, path_); !written) return written;
  if (::fsync(fd_) != 0) return errno_error(fmt::format("fsync of journal {}", path_.native()));
  return {};
}

Result<void> Journal::record(std::span<const JournalRecord> records) {
  std::string text;
  std::vector<JournalRecord> fresh;
  for (const JournalRecord& record : records) {
    const bool duplicate = knows(record) || std::find(fresh.begin(), fresh.end(), record) != fresh.end();
    if (duplicate) continue;
    text += serialize(record);
    fresh.push_back(record);
  }
  if (fresh.empty()) return {};
  if (auto appended = append(text); !appended) return appended;
  contents_.records.insert(contents_.records.end(), fresh.begin(), fresh.end());
  contents_.complete = false;
  return {};
}

Result<void> Journal::mark_complete() {
  if (contents_.complete) return {};
  if (auto appended = append("complete\n"); !appended) return appended;
  contents_.complete = true;
  return {};
}

BootIdentity read_boot_identity(const HostAccess& host) {
  return BootIdentity{host.read_trimmed("/proc/sys/kernel/random/boot_id").value_or(""),
                      host.read_trimmed("/proc/sys/kernel/osrelease").value_or("")};
}

std::optional<std::string> journal_boot_mismatch(const JournalHeader& header, const BootIdentity& running) {
  const bool other_boot = !header.boot_id.empty() && !running.boot_id.empty() && header.boot_id != running.boot_id;
  const bool other_kernel = !header.kernel_release.empty() && !running.kernel_release.empty() &&
                            header.kernel_release != running.kernel_release;
  if (!other_boot && !other_kernel) return std::nullopt;
  auto describe = [](std::string_view boot, std::string_view kernel) {
    return fmt::format("boot {} (kernel {})", boot.empty() ? "unknown" : boot, kernel.empty() ? "unknown" : kernel);
  };
  return fmt::format("written in {}, this is {}", describe(header.boot_id, header.kernel_release),
                     describe(running.boot_id, running.kernel_release));
}

Result<void> remove_journal(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("cannot remove journal {}", path.native()));
  }
  return sync_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

}  // namespace aether::partition
