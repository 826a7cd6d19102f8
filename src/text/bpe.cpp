#include "text/bpe.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <queue>

#include "core/error.h"
#include "text/utf8.h"

namespace clipkit::text {
namespace {

constexpr uint64_t kEmpty = ~uint64_t{0};
constexpr uint32_t kNoRank = UINT32_MAX;

inline uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

inline uint64_t mix64(uint64_t x) {  // MurmurHash3's finaliser
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix64(h ^ w);
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = mix64(h ^ w ^ 0x5555);
  }
  return h;
}

// Repeatedly merges the lowest-ranked pair of sym[0..n). rank[i]/res[i] describe pair (i, i+1).
// With merge_all every further occurrence of that pair is merged in the same left-to-right pass
// (OpenAI's rounds); without it only the leftmost one (tokenizers' queue order).
template <typename Lookup>
void merge_scan(int32_t* sym, uint32_t* rank, int32_t* res, std::size_t& n, bool merge_all,
                const Lookup& lookup) {
  for (std::size_t i = 0; i + 1 < n; ++i) lookup(sym[i], sym[i + 1], rank[i], res[i]);
  while (n > 1) {
    std::size_t j = 0;
    for (std::size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[j]) j = i;
    const uint32_t r = rank[j];
    if (r == kNoRank) break;
    for (;;) {
      // Merge pair j: the new symbol replaces sym[j]; sym[j+1] and pair j disappear.
      sym[j] = res[j];
      std::memmove(sym + j + 1, sym + j + 2, (n - j - 2) * sizeof(int32_t));
      std::memmove(rank + j, rank + j + 1, (n - j - 2) * sizeof(uint32_t));
      std::memmove(res + j, res + j + 1, (n - j - 2) * sizeof(int32_t));
      --n;
      if (j > 0) lookup(sym[j - 1], sym[j], rank[j - 1], res[j - 1]);
      if (j + 1 < n) lookup(sym[j], sym[j + 1], rank[j], res[j]);
      if (!merge_all) break;
      // Ranks identify pairs, so the next occurrence is the next pair with rank r. Scanning from
      // j + 1 skips the pair that overlapped the one just merged, as the reference's scan does.
      std::size_t k = j + 1;
      while (k + 1 < n && rank[k] != r) ++k;
      if (k + 1 >= n) break;
      j = k;
    }
  }
}

}  // namespace

// A bounded cache of piece -> ids, one 64-byte line per entry, read without locks: each line is
// a sequence lock whose payload lives in atomic words, so a reader that races a writer sees a
// changed sequence number and treats the line as a miss. Writers never wait: one that finds a
// line busy simply does not cache. A line holds pieces of up to kMaxKey bytes that encode to at
// most kMaxIds ids below 65536 (all of CLIP's vocabulary).
struct Bpe::Cache {
  static constexpr std::size_t kLines = 1 << 14;  // 1 MiB
  static constexpr std::size_t kMaxKey = 22;
  static constexpr std::size_t kMaxIds = 12;
  struct alignas(64) Line {
    std::atomic<uint64_t> seq{0};
    // w[0]: hash; w[1..3]: key length, id count, key bytes; w[4..6]: ids as uint16.
    std::atomic<uint64_t> w[7] = {};
  };
  std::unique_ptr<Line[]> lines{new Line[kLines]};

  bool find(uint64_t h, std::string_view key, std::vector<int32_t>& out) const {
    const Line& line = lines[h & (kLines - 1)];
    const uint64_t s1 = line.seq.load(std::memory_order_acquire);
    if (s1 & 1) return false;
    uint64_t w[7];
    for (int i = 0; i < 7; ++i) w[i] = line.w[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (line.seq.load(std::memory_order_relaxed) != s1) return false;
    unsigned char bytes[24];
    std::memcpy(bytes, &w[1], 24);
    const std::size_t n_ids = bytes[1];
    if (w[0] != h || bytes[0] != key.size() || n_ids == 0 || std::memcmp(bytes + 2, key.data(), key.size()))
      return false;
    uint16_t ids[kMaxIds];
    std::memcpy(ids, &w[4], sizeof ids);
    for (std::size_t i = 0; i < n_ids; ++i) out.push_back(ids[i]);
    return true;
  }

  void insert(uint64_t h, std::string_view key, const int32_t* ids, std::size_t n_ids) {
    if (key.size() > kMaxKey || n_ids == 0 || n_ids > kMaxIds) return;
    uint64_t w[7] = {};
    w[0] = h;
    unsigned char bytes[24] = {};
    bytes[0] = static_cast<unsigned char>(key.size());
    bytes[1] = static_cast<unsigned char>(n_ids);
    std::memcpy(bytes + 2, key.data(), key.size());
    std::memcpy(&w[1], bytes, 24);
    uint16_t packed[kMaxIds] = {};
    for (std::size_t i = 0; i < n_ids; ++i) {
      if (ids[i] < 0 || ids[i] > 0xFFFF) return;
      packed[i] = static_cast<uint16_t>(ids[i]);
    }
    std::memcpy(&w[4], packed, sizeof packed);
    Line& line = lines[h & (kLines - 1)];
    uint64_t s = line.seq.load(std::memory_order_relaxed);
    if ((s & 1) || !line.seq.compare_exchange_strong(s, s + 1, std::memory_order_relaxed)) return;
    std::atomic_thread_fence(std::memory_order_release);
    for (int i = 0; i < 7; ++i) line.w[i].store(w[i], std::memory_order_relaxed);
    line.seq.store(s + 2, std::memory_order_release);
  }
};

Bpe::Bpe(const Vocab& vocab, MergeOrder order) : vocab_(vocab), order_(order), cache_(new Cache) {
  std::size_t cap = 16;
  while (cap < vocab.merges.size() * 2) cap <<= 1;
  table_.assign(cap, MergeSlot{kEmpty, 0, 0});
  mask_ = cap - 1;
  for (std::size_t r = 0; r < vocab.merges.size(); ++r) {
    const Merge& m = vocab.merges[r];
    const uint64_t key = pair_key(m.left, m.right);
    uint64_t i = mix64(key) & mask_;
    while (table_[i].key != kEmpty && table_[i].key != key) i = (i + 1) & mask_;
    // A pair listed twice keeps its last rank, as the references' dicts do.
    table_[i] = MergeSlot{key, static_cast<uint32_t>(r), m.result};
  }
  // The two merge orders agree when every merge using a symbol ranks after every merge that
  // makes it: then the pairs a merge creates always rank after the pair just merged.
  std::vector<uint32_t> made_at(vocab.size(), 0);  // symbol -> 1 + highest rank that makes it
  for (const MergeSlot& s : table_)
    if (s.key != kEmpty && static_cast<std::size_t>(s.result) < made_at.size())
      made_at[s.result] = std::max(made_at[s.result], s.rank + 1);
  for (const MergeSlot& s : table_) {
    if (s.key == kEmpty) continue;
    for (uint64_t part : {s.key >> 32, s.key & 0xFFFFFFFFu})
      if (part < made_at.size() && made_at[part] > s.rank) consistent_ = false;
  }
}

Bpe::~Bpe() = default;

bool Bpe::find_merge(int32_t left, int32_t right, uint32_t& rank, int32_t& result) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
    const MergeSlot& s = table_[i];
    if (s.key == key) {
      rank = s.rank;
      result = s.result;
      return true;
    }
    if (s.key == kEmpty) return false;
  }
}

void Bpe::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(piece.data());
  const std::size_t n0 = piece.size();
  if (n0 == 0) return;
  if (n0 == 1 && !vocab_.ignore_merges) {  // one byte: its "</w>" symbol, nothing to merge
    out.push_back(vocab_.byte_eow_ids[bytes[0]]);
    return;
  }
  const bool cacheable = n0 <= Cache::kMaxKey;
  const uint64_t h = cacheable ? hash_bytes(piece) : 0;
  if (cacheable && cache_->find(h, piece, out)) return;

  if (vocab_.ignore_merges) {
    // tokenizers looks the byte-mapped word up whole (without the suffix) before merging.
    std::string word;
    for (std::size_t i = 0; i < n0; ++i) append_utf8(word, byte_to_unicode(bytes[i]));
    if (const int32_t id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  auto lookup = [this](int32_t l, int32_t r, uint32_t& rank, int32_t& res) {
    if (!find_merge(l, r, rank, res)) rank = kNoRank;
  };
  const bool merge_all = order_ == MergeOrder::rounds || consistent_;
  if (n0 <= kLongWord) {
    int32_t sym[kLongWord];
    uint32_t rank[kLongWord];
    int32_t res[kLongWord];
    for (std::size_t i = 0; i < n0; ++i) sym[i] = vocab_.byte_ids[bytes[i]];
    sym[n0 - 1] = vocab_.byte_eow_ids[bytes[n0 - 1]];
    std::size_t n = n0;
    merge_scan(sym, rank, res, n, merge_all, lookup);
    out.insert(out.end(), sym, sym + n);
    if (cacheable) cache_->insert(h, piece, sym, n);
    return;
  }
  std::vector<int32_t> sym(n0);
  for (std::size_t i = 0; i < n0; ++i) sym[i] = vocab_.byte_ids[bytes[i]];
  sym[n0 - 1] = vocab_.byte_eow_ids[bytes[n0 - 1]];
  if (consistent_ || order_ == MergeOrder::leftmost) {
    merge_long(sym);
  } else {
    merge_rounds_vector(sym);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

// Leftmost-lowest-rank order with a heap over a linked list: O(n log n) for long words.
void Bpe::merge_long(std::vector<int32_t>& sym) const {
  const std::size_t n = sym.size();
  std::vector<int32_t> prev(n), next(n);
  for (std::size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    uint32_t rank, pos;
    int32_t left, right, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    uint32_t rank;
    int32_t res;
    if (find_merge(sym[pos], sym[next[pos]], rank, res))
      heap.push(Cand{rank, static_cast<uint32_t>(pos), sym[pos], sym[next[pos]], res});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t nx = next[c.pos];
    // Stale entries: the left symbol was merged away or changed, or its neighbour did.
    if (sym[c.pos] != c.left || nx < 0 || sym[nx] != c.right) continue;
    sym[c.pos] = c.result;
    sym[nx] = -1;
    next[c.pos] = next[nx];
    if (next[nx] >= 0) prev[next[nx]] = static_cast<int32_t>(c.pos);
    push(prev[c.pos]);
    push(static_cast<int32_t>(c.pos));
  }
  std::size_t k = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) sym[k++] = sym[i];
  sym.resize(k);
}

// OpenAI's rounds for a long word whose merges are not consistently ordered (quadratic).
void Bpe::merge_rounds_vector(std::vector<int32_t>& sym) const {
  std::size_t n = sym.size();
  std::vector<uint32_t> rank(n);
  std::vector<int32_t> res(n);
  merge_scan(sym.data(), rank.data(), res.data(), n, true,
             [this](int32_t l, int32_t r, uint32_t& rk, int32_t& rs) {
               if (!find_merge(l, r, rk, rs)) rk = kNoRank;
             });
  sym.resize(n);
}

}  // namespace clipkit::text
