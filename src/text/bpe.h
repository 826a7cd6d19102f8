// Byte-level BPE on integer symbols: a piece's UTF-8 bytes become the ids of their byte symbols
// ("</w>" joined to the last one), then pairs are merged by lowest rank until none applies.
//
// Two merge orders exist in the references:
//  * OpenAI's simple_tokenizer: each round finds the lowest-ranked pair and merges every
//    occurrence of it, left to right, before looking again (MergeOrder::rounds).
//  * tokenizers' BPE model: a priority queue that always merges the leftmost occurrence of the
//    lowest-ranked pair (MergeOrder::leftmost).
// They agree whenever every merge that uses a symbol ranks after the merge that makes it, which
// is true of every trained vocabulary (checked at load: Bpe::consistent()). Words of more than
// kLongWord symbols then go through an O(n log n) heap instead of the quadratic scan.
//
// Results for short pieces are cached in a bounded, lock-free table shared by all threads, so a
// Bpe (and the Tokenizer owning it) may be used from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace clipkit::text {

enum class MergeOrder { rounds, leftmost };

class Bpe {
 public:
  Bpe(const Vocab& vocab, MergeOrder order);
  ~Bpe();
  Bpe(const Bpe&) = delete;
  Bpe& operator=(const Bpe&) = delete;

  // Appends the ids of one pre-tokenized piece (its raw UTF-8 bytes, not empty) to `out`.
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  // Merge rank and result of a pair; false when the pair is not a merge.
  bool find_merge(int32_t left, int32_t right, uint32_t& rank, int32_t& result) const;

  bool consistent() const { return consistent_; }
  static constexpr std::size_t kLongWord = 96;

 private:
  struct MergeSlot {
    uint64_t key;  // left << 32 | right; kEmpty when unused
    uint32_t rank;
    int32_t result;
  };
  struct Cache;
  void merge_long(std::vector<int32_t>& sym) const;
  void merge_rounds_vector(std::vector<int32_t>& sym) const;

  const Vocab& vocab_;
  MergeOrder order_;
  bool consistent_ = true;
  std::vector<MergeSlot> table_;  // open-addressing hash of (left, right) -> (rank, result)
  uint64_t mask_ = 0;
  std::unique_ptr<Cache> cache_;
};

}  // namespace clipkit::text
