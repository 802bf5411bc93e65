// queue_recycle.h: the pool of delivered messages' files in queue_directory/recycle/, kept
// for reuse so that a new message need not allocate an inode (on ext4 that costs a scan of
// recently freed inodes and the directory lock; docs/BENCH.md). A finished message's file
// is renamed to recycle/R<n> (n below the limit) instead of unlinked; a writer claims one
// by renaming it to its temporary name, then overwrites and truncates it. Every step is a
// rename with RENAME_NOREPLACE, so a crash leaves a pool file or a temporary, never a
// message. Keeps go round the slots from a per-process cursor; claims take names from a
// per-process listing of the pool, since many writers (commit threads, smtpd processes)
// claim at once and a shared cursor would have them race for the same slot. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace postern::queue {

// The pool's directory name in queue_directory (not a queue: no scan looks at it).
inline constexpr const char* kRecycleDirectory = "recycle";

class RecyclePool {
public:
    // A pool in `directory` of at most `limit` files; limit 0 keeps nothing, claims nothing.
    RecyclePool(std::string directory, size_t limit);

    // Moves the regular, singly linked file at `path` (of at most 256 KiB) into a free slot;
    // false when it is not such a file or no slot near the cursor is free (the caller then
    // unlinks it).
    bool keep(const std::string& path);
    // Renames a pool file (regular, ours, singly linked) to `target` and opens it for
    // writing, mode 0600 and mtime now; an invalid descriptor when none could be claimed.
    UniqueFd claim(const std::string& target);

private:
    // The path of slot n.
    std::string slotPath(size_t slot) const;
    // The next slot to keep a file in, advancing the cursor.
    size_t nextKeepSlot();
    // The name of a pool entry not tried yet ("" when the pool looks empty).
    std::string nextCandidate();
    // Lists the pool into candidates_ (mutex_ held); after a listing found it empty, not
    // again for a moment (unless this process kept a file since), so an empty pool costs a
    // readdir now and then, not one per message.
    void listPool();

    std::string directory_;
    size_t limit_;
    std::atomic<size_t> keepCursor_{0};
    std::mutex mutex_;
    std::vector<std::string> candidates_;
    std::chrono::steady_clock::time_point foundEmptyAt_{};
};

}  // namespace postern::queue
