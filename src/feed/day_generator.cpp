// The synthetic trading day (see day_generator.hpp for the shape and mix).
#include "aether/feed/day_generator.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "aether/feed/itch_messages.hpp"
#include "aether/feed/pcap_file.hpp"

namespace aether::feed {
namespace {

constexpr std::uint64_t ns_per_second = 1'000'000'000;
constexpr std::uint64_t time_of_day(std::uint64_t hours, std::uint64_t minutes, std::uint64_t seconds = 0) {
  return ((hours * 60 + minutes) * 60 + seconds) * ns_per_second;
}

// Share of the order flow sent -> time of day, piecewise linear. Shares from
// the 30 Oct 2019 file (shared specs section 5): 3.3% before 09:30, 95.7% in
// market hours, 1% after 16:00. Inside market hours 12% come in the first 15
// minutes and 8% in the last 10 (about 3.75x the midday rate: the bursts at
// the open and the close).
struct TimelinePoint {
  double flow_share;
  std::uint64_t time_ns;
};
constexpr std::array<TimelinePoint, 6> timeline = {{{0.0, time_of_day(4, 0)},
                                                    {0.033, time_of_day(9, 30)},
                                                    {0.033 + 0.957 * 0.12, time_of_day(9, 45)},
                                                    {0.033 + 0.957 * 0.92, time_of_day(15, 50)},
                                                    {0.99, time_of_day(16, 0)},
                                                    {1.0, time_of_day(20, 0)}}};

std::uint64_t time_at_flow_share(double share) {
  for (std::size_t i = 1; i < timeline.size(); ++i) {
    if (share <= timeline[i].flow_share) {
      const TimelinePoint& from = timeline[i - 1];
      const TimelinePoint& to = timeline[i];
      const double along = (share - from.flow_share) / (to.flow_share - from.flow_share);
      return from.time_ns + static_cast<std::uint64_t>(along * static_cast<double>(to.time_ns - from.time_ns));
    }
  }
  return timeline.back().time_ns;
}

// Order-flow mix in messages per million (shared specs section 5 shares).
struct FlowWeight {
  char type;
  std::uint32_t per_million;
};
constexpr std::array<FlowWeight, 10> flow_mix = {{{'A', 432'700},
                                                  {'D', 419'400},
                                                  {'U', 86'800},
                                                  {'E', 24'900},
                                                  {'I', 12'700},
                                                  {'X', 12'100},
                                                  {'P', 5'200},
                                                  {'F', 4'800},
                                                  {'L', 730},
                                                  {'C', 440}}};
constexpr std::uint32_t flow_mix_total = [] {
  std::uint32_t total = 0;
  for (const FlowWeight& weight : flow_mix) total += weight.per_million;
  return total;
}();

constexpr std::array<const char*, 5> mpids = {"NITE", "GSCO", "MSCO", "UBSS", "CDRG"};
constexpr std::uint32_t cents = 100;  // Price(4) units per cent
// Messages the day sends besides the order flow: per symbol a directory
// entry, a trading action, an opening and a closing cross; six system
// events, the MWCB levels, one LULD collar, one broken trade.
constexpr std::uint64_t fixed_per_symbol = 4;
constexpr std::uint64_t fixed_messages = 6 + 3;

struct SymbolState {
  std::uint32_t mid_cents = 0;
  std::vector<std::uint64_t> live_orders;  // order references, for picking one
};

struct OrderState {
  std::uint32_t symbol = 0;
  char side = 'B';
  std::uint32_t shares = 0;
  std::uint32_t price = 0;
  std::uint32_t live_index = 0;  // position in its symbol's live_orders
};

class DayGenerator {
 public:
  DayGenerator(const DayConfig& config, const PacketSink& sink)
      : config_(config), sink_(sink), random_(config.seed), buffer_(mold::header_size + config.payload_size),
        builder_(buffer_), symbols_(config.symbols) {
    for (SymbolState& symbol : symbols_) symbol.mid_cents = 500 + static_cast<std::uint32_t>(below(50'000));
  }

  Result<DayStats> run() {
    const std::uint64_t flow = config_.messages - fixed_messages - fixed_per_symbol * config_.symbols;
    std::uint64_t clock = time_of_day(3, 2, 31);  // when the 2019 file's first message came
    system_event('O', clock);
    for (std::uint32_t symbol = 0; symbol < config_.symbols; ++symbol) stock_directory(symbol, clock += 1000);
    for (std::uint32_t symbol = 0; symbol < config_.symbols; ++symbol) trading_action(symbol, clock += 1000);
    mwcb_levels(clock += 1000);
    system_event('S', time_of_day(4, 0));
    bool open = false;
    bool closed = false;
    std::uint64_t cluster_left = 0;
    std::uint64_t cluster_time = 0;
    for (std::uint64_t index = 0; index < flow && !failure_; ++index) {
      // Messages come in clusters sharing one instant (a sweep, a requote).
      if (cluster_left == 0) {
        cluster_left = 1 + below(16);
        cluster_time = time_at_flow_share(static_cast<double>(index) / static_cast<double>(flow));
      }
      --cluster_left;
      const std::uint64_t now = std::max(cluster_time, last_time_ + 40);
      if (!open && now >= time_of_day(9, 30)) open = open_market();
      if (!closed && now >= time_of_day(16, 0)) closed = close_market();
      if (index == flow / 2) rare_events(now);
      order_flow(std::max(now, last_time_ + 40));
    }
    if (!open) open_market();
    if (!closed) close_market();
    if (flow < 2) rare_events(time_of_day(16, 0) + 1000);
    system_event('E', time_of_day(20, 0));
    system_event('C', time_of_day(20, 5));
    flush();
    if (!failure_) send(builder_.header_only(config_.session, sequence_, mold::end_of_session_count), last_time_ + 1);
    if (failure_) return std::move(*failure_);
    for (const SymbolState& symbol : symbols_) stats_.live_orders_at_close += symbol.live_orders.size();
    return stats_;
  }

 private:
  // --- random numbers: std::mt19937_64 output is fixed by the standard ---
  std::uint64_t below(std::uint64_t bound) { return random_() % bound; }
  bool chance(double probability) { return static_cast<double>(random_() >> 11) * 0x1.0p-53 < probability; }

  // Skewed popularity: the first tenth of the symbols get about half the flow.
  std::uint32_t pick_symbol() {
    const double u = static_cast<double>(random_() >> 11) * 0x1.0p-53;
    const auto index = static_cast<std::uint32_t>(u * u * u * config_.symbols);
    return std::min(index, config_.symbols - 1);
  }

  // A live order of `symbol` for a message of `type`. Executions hit the
  // most aggressive of a few sampled orders (trades happen at the touch);
  // deletes, replaces and cancels mostly take a recent order (most orders
  // are cancelled soon after entry), otherwise the stalest of a few sampled
  // (quotes left behind, or crossed, by the walking mid get pulled). Without
  // both, the walk would leave a crossed book with deep stale ladders.
  std::optional<std::uint64_t> pick_order(std::uint32_t symbol, char type) {
    const std::vector<std::uint64_t>& live = symbols_[symbol].live_orders;
    if (live.empty()) return std::nullopt;
    const bool execution = type == 'E' || type == 'C';
    if (!execution && chance(0.7)) return live[live.size() - 1 - below(std::min<std::size_t>(live.size(), 8))];
    const auto mid_price = static_cast<std::int64_t>(symbols_[symbol].mid_cents) * cents;
    std::uint64_t chosen = 0;
    std::int64_t chosen_score = 0;
    for (int sample = 0; sample < 4; ++sample) {
      const std::uint64_t reference = live[below(live.size())];
      const OrderState& order = orders_[reference];
      // How far the order reaches past the mid toward the other side (> 0: crossed).
      const std::int64_t reach = order.side == 'B' ? static_cast<std::int64_t>(order.price) - mid_price
                                                   : mid_price - static_cast<std::int64_t>(order.price);
      const std::int64_t score = execution ? reach : (reach > 0 ? reach * 1000 : -reach);
      if (sample == 0 || score > chosen_score) {
        chosen = reference;
        chosen_score = score;
      }
    }
    return chosen;
  }

  void remove_order(std::uint64_t reference) {
    auto found = orders_.find(reference);
    std::vector<std::uint64_t>& live = symbols_[found->second.symbol].live_orders;
    const std::uint32_t index = found->second.live_index;
    live[index] = live.back();
    orders_[live[index]].live_index = index;
    live.pop_back();
    orders_.erase(found);
  }

  std::uint64_t insert_order(std::uint32_t symbol, char side, std::uint32_t shares, std::uint32_t price) {
    next_reference_ += 1 + below(4);  // increasing, not dense, as Nasdaq's are
    std::vector<std::uint64_t>& live = symbols_[symbol].live_orders;
    orders_[next_reference_] = OrderState{symbol, side, shares, price, static_cast<std::uint32_t>(live.size())};
    live.push_back(next_reference_);
    return next_reference_;
  }

  std::uint32_t round_lot_shares() { return chance(0.1) ? 1 + static_cast<std::uint32_t>(below(99)) : 100 * (1 + static_cast<std::uint32_t>(below(10))); }

  // A price `ticks` cents off the mid on the passive side, at least one cent.
  std::uint32_t passive_price(std::uint32_t symbol, char side, std::uint32_t ticks) const {
    const std::uint32_t mid = symbols_[symbol].mid_cents;
    const std::uint32_t price_cents = side == 'B' ? (mid > ticks ? mid - ticks : 1) : mid + ticks;
    return price_cents * cents;
  }

  template <class T>
  static T with_header(std::uint16_t locate) {
    T message{};
    message.header.message_type = T::type;
    message.header.stock_locate.set(locate);
    return message;
  }

  static std::uint16_t locate_of(std::uint32_t symbol) { return static_cast<std::uint16_t>(symbol + 1); }

  // --- one message of each kind ---
  void system_event(char code, std::uint64_t time) {
    auto message = with_header<itch::SystemEvent>(0);
    message.event_code = code;
    emit(message, time);
  }

  void stock_directory(std::uint32_t symbol, std::uint64_t time) {
    auto message = with_header<itch::StockDirectory>(locate_of(symbol));
    message.stock.set(symbol_name(symbol));
    message.market_category = "QGSNAPZ"[below(7)];
    message.financial_status_indicator = 'N';
    message.round_lot_size.set(100);
    message.round_lots_only = 'N';
    message.issue_classification = 'C';
    message.issue_sub_type.set("Z");
    message.authenticity = 'P';
    message.short_sale_threshold_indicator = 'N';
    message.ipo_flag = ' ';
    message.luld_reference_price_tier = chance(0.2) ? '1' : '2';
    message.etp_flag = 'N';
    message.inverse_indicator = 'N';
    emit(message, time);
  }

  void trading_action(std::uint32_t symbol, std::uint64_t time) {
    auto message = with_header<itch::StockTradingAction>(locate_of(symbol));
    message.stock.set(symbol_name(symbol));
    message.trading_state = 'T';
    message.reserved = ' ';
    message.reason.set("");
    emit(message, time);
  }

  void mwcb_levels(std::uint64_t time) {
    auto message = with_header<itch::MwcbDeclineLevel>(0);
    message.level_1.set(3'500'00000000);  // Price(8): 3500.00000000
    message.level_2.set(3'250'00000000);
    message.level_3.set(2'900'00000000);
    emit(message, time);
  }

  void cross(std::uint32_t symbol, char cross_type, std::uint64_t time) {
    auto message = with_header<itch::CrossTrade>(locate_of(symbol));
    message.shares.set(below(5) * 100 * (1 + below(50)));  // may be 0 (spec)
    message.stock.set(symbol_name(symbol));
    message.cross_price.set(std::uint64_t{symbols_[symbol].mid_cents} * cents);
    message.match_number.set(++next_match_);
    message.cross_type = cross_type;
    emit(message, time);
  }

  bool open_market() {
    system_event('Q', time_of_day(9, 30));
    for (std::uint32_t symbol = 0; symbol < config_.symbols; ++symbol) cross(symbol, 'O', time_of_day(9, 30));
    return true;
  }

  bool close_market() {
    for (std::uint32_t symbol = 0; symbol < config_.symbols; ++symbol) cross(symbol, 'C', time_of_day(16, 0));
    system_event('M', time_of_day(16, 0));
    return true;
  }

  // One LULD auction collar and one broken trade (each about once a day).
  void rare_events(std::uint64_t time) {
    const std::uint32_t symbol = pick_symbol();
    auto collar = with_header<itch::LuldAuctionCollar>(locate_of(symbol));
    collar.stock.set(symbol_name(symbol));
    const std::uint64_t reference = std::uint64_t{symbols_[symbol].mid_cents} * cents;
    collar.auction_collar_reference_price.set(reference);
    collar.upper_auction_collar_price.set(reference + reference / 10);
    collar.lower_auction_collar_price.set(reference - reference / 10);
    collar.auction_collar_extension.set(0);
    emit(collar, time);
    auto broken = with_header<itch::BrokenTrade>(locate_of(symbol));
    broken.match_number.set(std::max<std::uint64_t>(next_match_, 1));
    emit(broken, time);
  }

  void order_flow(std::uint64_t time) {
    const std::uint32_t symbol = pick_symbol();
    if (chance(1.0 / 16)) {  // the mid walks a cent at a time
      std::uint32_t& mid = symbols_[symbol].mid_cents;
      mid = chance(0.5) ? mid + 1 : std::max<std::uint32_t>(mid - 1, 100);
    }
    auto draw = static_cast<std::uint32_t>(below(flow_mix_total));
    char type = 'A';
    for (const FlowWeight& weight : flow_mix) {
      if (draw < weight.per_million) {
        type = weight.type;
        break;
      }
      draw -= weight.per_million;
    }
    const bool needs_order = type == 'D' || type == 'U' || type == 'E' || type == 'X' || type == 'C';
    const std::optional<std::uint64_t> order = needs_order ? pick_order(symbol, type) : std::nullopt;
    if (needs_order && !order) type = 'A';  // an empty book can only grow
    const std::uint64_t reference = order.value_or(0);
    switch (type) {
      case 'A':
      case 'F': add_order(symbol, type == 'F', time); break;
      case 'D': delete_order(reference, time); break;
      case 'U': replace_order(reference, time); break;
      case 'E':
      case 'C': execute_order(reference, type == 'C', time); break;
      case 'X': cancel_order(reference, time); break;
      case 'P': trade(symbol, time); break;
      case 'I': imbalance(symbol, time); break;
      case 'L': participant_position(symbol, time); break;
      default: break;
    }
  }

  std::uint32_t ticks_from_mid() {
    std::uint32_t ticks = 1;
    while (ticks < 40 && chance(0.6)) ++ticks;
    return ticks;
  }

  void add_order(std::uint32_t symbol, bool attributed, std::uint64_t time) {
    const char side = chance(0.5) ? 'B' : 'S';
    const std::uint32_t shares = round_lot_shares();
    const std::uint32_t price = passive_price(symbol, side, ticks_from_mid());
    const std::uint64_t reference = insert_order(symbol, side, shares, price);
    // 'A' and 'F' share their first 36 bytes; 'F' adds the attribution.
    const auto fill = [&](auto message) {
      message.order_reference.set(reference);
      message.side = side;
      message.shares.set(shares);
      message.stock.set(symbol_name(symbol));
      message.price.set(price);
      return message;
    };
    if (attributed) {
      auto message = fill(with_header<itch::AddOrderWithMpid>(locate_of(symbol)));
      message.attribution.set(mpids[below(mpids.size())]);
      emit(message, time);
    } else {
      emit(fill(with_header<itch::AddOrder>(locate_of(symbol))), time);
    }
  }

  void delete_order(std::uint64_t reference, std::uint64_t time) {
    auto message = with_header<itch::OrderDelete>(locate_of(orders_[reference].symbol));
    message.order_reference.set(reference);
    remove_order(reference);
    emit(message, time);
  }

  void replace_order(std::uint64_t reference, std::uint64_t time) {
    const OrderState old = orders_[reference];
    const std::uint32_t old_cents = old.price / cents;
    const std::uint32_t new_cents = std::max<std::uint32_t>(1, old_cents + static_cast<std::uint32_t>(below(3)) - 1);
    const std::uint32_t shares = round_lot_shares();
    remove_order(reference);
    const std::uint64_t new_reference = insert_order(old.symbol, old.side, shares, new_cents * cents);
    auto message = with_header<itch::OrderReplace>(locate_of(old.symbol));
    message.original_order_reference.set(reference);
    message.new_order_reference.set(new_reference);
    message.shares.set(shares);
    message.price.set(new_cents * cents);
    emit(message, time);
  }

  void execute_order(std::uint64_t reference, bool with_price, std::uint64_t time) {
    OrderState& order = orders_[reference];
    const std::uint32_t executed =
        order.shares <= 1 || chance(0.6) ? order.shares : 1 + static_cast<std::uint32_t>(below(order.shares - 1));
    const std::uint32_t symbol = order.symbol;
    const std::uint32_t price = order.price;
    order.shares -= executed;
    if (order.shares == 0) remove_order(reference);
    if (with_price) {
      auto message = with_header<itch::OrderExecutedWithPrice>(locate_of(symbol));
      message.order_reference.set(reference);
      message.executed_shares.set(executed);
      message.match_number.set(++next_match_);
      message.printable = chance(0.9) ? 'Y' : 'N';
      message.execution_price.set(price + cents);
      emit(message, time);
    } else {
      auto message = with_header<itch::OrderExecuted>(locate_of(symbol));
      message.order_reference.set(reference);
      message.executed_shares.set(executed);
      message.match_number.set(++next_match_);
      emit(message, time);
    }
  }

  void cancel_order(std::uint64_t reference, std::uint64_t time) {
    OrderState& order = orders_[reference];
    if (order.shares <= 1) {
      delete_order(reference, time);
      return;
    }
    const auto cancelled = 1 + static_cast<std::uint32_t>(below(order.shares - 1));
    order.shares -= cancelled;
    auto message = with_header<itch::OrderCancel>(locate_of(order.symbol));
    message.order_reference.set(reference);
    message.cancelled_shares.set(cancelled);
    emit(message, time);
  }

  void trade(std::uint32_t symbol, std::uint64_t time) {
    auto message = with_header<itch::Trade>(locate_of(symbol));
    message.order_reference.set(0);  // 0 since 2010 (shared specs section 3)
    message.side = 'B';              // always B since 2014
    message.shares.set(round_lot_shares());
    message.stock.set(symbol_name(symbol));
    message.price.set(std::uint64_t{symbols_[symbol].mid_cents} * cents);
    message.match_number.set(++next_match_);
    emit(message, time);
  }

  void imbalance(std::uint32_t symbol, std::uint64_t time) {
    auto message = with_header<itch::NetOrderImbalance>(locate_of(symbol));
    const std::uint64_t reference = std::uint64_t{symbols_[symbol].mid_cents} * cents;
    message.paired_shares.set(100 * below(1000));
    message.imbalance_shares.set(100 * below(100));
    message.imbalance_direction = "BSNO"[below(4)];
    message.stock.set(symbol_name(symbol));
    message.far_price.set(reference + cents);
    message.near_price.set(reference);
    message.current_reference_price.set(reference);
    message.cross_type = time < time_of_day(12, 0) ? 'O' : 'C';
    message.price_variation_indicator = ' ';
    emit(message, time);
  }

  void participant_position(std::uint32_t symbol, std::uint64_t time) {
    auto message = with_header<itch::MarketParticipantPosition>(locate_of(symbol));
    message.mpid.set(mpids[below(mpids.size())]);
    message.stock.set(symbol_name(symbol));
    message.primary_market_maker = 'N';
    message.market_maker_mode = 'N';
    message.market_participant_state = 'A';
    emit(message, time);
  }

  // --- packets ---
  template <class T>
  void emit(T message, std::uint64_t time) {
    if (failure_) return;
    time = std::max(time, last_time_);
    message.header.timestamp.set(time);
    message.header.tracking_number.set(below(16));
    std::array<std::byte, sizeof(T)> bytes;
    std::memcpy(bytes.data(), &message, sizeof(T));
    if (builder_.message_count() > 0 && time > packet_start_ + config_.packet_window_ns) flush();
    if (builder_.message_count() > 0 && !builder_.try_add(bytes)) flush();
    if (builder_.message_count() == 0) {
      heartbeats_until(time);
      builder_.begin(config_.session, sequence_);
      packet_start_ = time;
      (void)builder_.try_add(bytes);  // an empty packet holds any ITCH message
    }
    last_time_ = time;
    ++sequence_;
    ++stats_.messages;
    ++stats_.by_type[static_cast<unsigned char>(T::type)];
  }

  // MoldUDP64: a heartbeat about once a second in quiet periods.
  void heartbeats_until(std::uint64_t time) {
    while (!failure_ && last_sent_ != 0 && time > last_sent_ + ns_per_second) {
      send(builder_.header_only(config_.session, sequence_, mold::heartbeat_count), last_sent_ + ns_per_second);
      ++stats_.heartbeats;
    }
  }

  void flush() {
    if (builder_.message_count() == 0 || failure_) return;
    send(builder_.finish(), last_time_);
    ++stats_.packets;
    builder_.begin(config_.session, sequence_);
  }

  void send(std::span<const std::byte> packet, std::uint64_t time) {
    stats_.bytes += packet.size();
    last_sent_ = time;
    auto sent = sink_(packet, time);
    if (!sent) failure_ = std::move(sent).error();
  }

  const DayConfig& config_;
  const PacketSink& sink_;
  std::mt19937_64 random_;
  std::vector<std::byte> buffer_;
  mold::PacketBuilder builder_;
  std::vector<SymbolState> symbols_;
  std::unordered_map<std::uint64_t, OrderState> orders_;
  std::uint64_t next_reference_ = 0;
  std::uint64_t next_match_ = 0;
  std::uint64_t sequence_ = 1;  // MoldUDP64 sessions start at 1
  std::uint64_t packet_start_ = 0;
  std::uint64_t last_time_ = 0;
  std::uint64_t last_sent_ = 0;
  std::optional<Error> failure_;
  DayStats stats_;
};

}  // namespace

std::uint64_t minimum_day_messages(std::uint32_t symbols) noexcept {
  return fixed_messages + fixed_per_symbol * symbols + 1;
}

std::string symbol_name(std::uint32_t index) {
  // Bijective base 26: 0 -> "A", 25 -> "Z", 26 -> "AA".
  std::string name;
  std::uint64_t number = std::uint64_t{index} + 1;
  while (number > 0) {
    --number;
    name.insert(name.begin(), static_cast<char>('A' + number % 26));
    number /= 26;
  }
  return name;
}

namespace {

Result<void> check_config(const DayConfig& config) {
  if (config.symbols == 0 || config.symbols > 65535) {
    return invalid_argument(fmt::format("--symbols {}: must be 1..65535 (stock locate is 2 bytes)", config.symbols));
  }
  if (config.messages < minimum_day_messages(config.symbols)) {
    return invalid_argument(fmt::format("--messages {}: {} symbols need at least {} (directory, crosses, system events)",
                                        config.messages, config.symbols, minimum_day_messages(config.symbols)));
  }
  if (config.session.size() > 10) {
    return invalid_argument(fmt::format("session '{}': at most 10 characters (MoldUDP64 Session is Alpha 10)", config.session));
  }
  if (config.payload_size < 64 || config.payload_size > 65507 - mold::header_size) {
    return invalid_argument(fmt::format("payload size {}: must be 64..{} bytes", config.payload_size, 65507 - mold::header_size));
  }
  return {};
}

}  // namespace

Result<DayStats> generate_day(const DayConfig& config, const PacketSink& sink) {
  auto valid = check_config(config);
  if (!valid) return std::move(valid).error();
  DayGenerator generator(config, sink);
  return generator.run();
}

Result<DayStats> write_day_pcap(const DayConfig& config, const std::string& path) {
  auto valid = check_config(config);  // before the file is created
  if (!valid) return std::move(valid).error();
  auto writer = PcapWriter::create(path);
  if (!writer) return std::move(writer).error();
  // A fixed calendar day, Friday 2 January 2026, midnight US Eastern (UTC-5).
  constexpr std::uint64_t midnight_unix_ns = 1'767'330'000ULL * ns_per_second;
  const PacketSink sink = [&writer](std::span<const std::byte> packet, std::uint64_t due_ns) {
    return writer->write_udp(packet, midnight_unix_ns + due_ns);
  };
  auto stats = generate_day(config, sink);
  if (!stats) return stats;
  auto closed = writer->close();
  if (!closed) return std::move(closed).error();
  return stats;
}

}  // namespace aether::feed
