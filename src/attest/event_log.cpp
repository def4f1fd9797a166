#include "aether/attest/event_log.hpp"

#include <algorithm>

namespace aether::attest {
namespace {

constexpr const char* content_type = "aether_measurement";

}  // namespace

Event make_event(std::string name, std::string data) {
  Event event{std::move(name), std::move(data), {}};
  event.digest = sha256(event.data);
  return event;
}

Sha256 EventLog::replay() const {
  Sha256 value{};  // PCR 23 resets to zeros (reset value of PCRs 0-16 and 23)
  for (const Event& event : events) value = sha256_extend(value, event.digest);
  return value;
}

std::vector<std::string> EventLog::inconsistent_events() const {
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (sha256(events[i].data) != events[i].digest) {
      lines.push_back(fmt::format("edited log: event {} '{}': its content does not hash to its digest", i,
                                  events[i].name));
    }
  }
  return lines;
}

const Event* EventLog::find(std::string_view name) const {
  const auto found = std::find_if(events.begin(), events.end(), [&](const Event& e) { return e.name == name; });
  return found == events.end() ? nullptr : &*found;
}

nlohmann::json log_to_json(const EventLog& log) {
  nlohmann::json records = nlohmann::json::array();
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    const Event& event = log.events[i];
    records.push_back({{"recnum", i},
                       {"pcr", log.pcr},
                       {"digests", {{{"hashAlg", "sha256"}, {"digest", to_hex(event.digest)}}}},
                       {"content_type", content_type},
                       {"content", {{"name", event.name}, {"data", event.data}}}});
  }
  return records;
}

Result<EventLog> log_from_json(const nlohmann::json& json) {
  if (!json.is_array()) return invalid_argument("event log: not a JSON array of records");
  EventLog log;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const nlohmann::json& record = json[i];
    const std::string where = fmt::format("event log record {}", i);
    if (!record.is_object() || !record.contains("pcr") || !record.contains("digests") || !record.contains("content") ||
        !record["pcr"].is_number_unsigned() || !record["digests"].is_array() || !record["content"].is_object()) {
      return invalid_argument(where + ": needs pcr, digests and content");
    }
    if (record.value("recnum", std::size_t{0}) != i) return invalid_argument(where + ": recnum out of order");
    if (record.value("content_type", std::string()) != content_type) {
      return invalid_argument(fmt::format("{}: content_type is not \"{}\"", where, content_type));
    }
    const unsigned pcr = record["pcr"].get<unsigned>();
    if (i == 0) log.pcr = pcr;
    if (pcr != log.pcr) return invalid_argument(fmt::format("{}: PCR {} (the log is for PCR {})", where, pcr, log.pcr));
    const nlohmann::json& digests = record["digests"];
    if (digests.size() != 1 || !digests[0].is_object() || digests[0].value("hashAlg", std::string()) != "sha256" ||
        !digests[0].contains("digest") || !digests[0]["digest"].is_string()) {
      return invalid_argument(where + ": digests must hold exactly one sha256 digest");
    }
    auto digest = sha256_from_hex(digests[0]["digest"].get<std::string>(), where + " digest");
    if (!digest) return std::move(digest).error();
    const nlohmann::json& content = record["content"];
    if (!content.contains("name") || !content["name"].is_string() || !content.contains("data") ||
        !content["data"].is_string()) {
      return invalid_argument(where + ": content needs the strings name and data");
    }
    log.events.push_back(Event{content["name"].get<std::string>(), content["data"].get<std::string>(), *digest});
  }
  return log;
}

}  // namespace aether::attest
