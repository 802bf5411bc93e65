// queue_recycle.h: the pool of delivered messages' files in queue_directory/recycle/, kept
// for reuse so that a new message need not allocate an inode (on ext4 that costs a scan of
// recently freed inodes and the directory lock; docs/BENCH.md). A finished message's file
// is renamed to recycle/R<n> (n below the limit) instead of unlinked; a writer claims one
// by renaming it to its temporary name, then overwrites and truncates it. Every step is a
// rename with RENAME_NOREPLACE, so a crash leaves a pool file or a temporary, never a
// message. Each process keeps its own cursors over the slots; the object is thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "unique_fd.h"

namespace postern::queue {

// The pool's directory name in queue_directory (not a queue: no scan looks at it).
inline constexpr const char* kRecycleDirectory = "recycle";

class RecyclePool {
public:
    // A pool in `directory` of at most `limit` files; limit 0 keeps nothing, claims nothing.
    RecyclePool(std::string directory, size_t limit);

    // Moves the regular, singly linked file at `path` into a free slot; false when it is
    // not such a file or no slot near the cursor is free (the caller then unlinks it).
    bool keep(const std::string& path);
    // Renames a pool file (regular, ours, singly linked) to `target` and opens it for
    // writing, mode 0600 and mtime now; an invalid descriptor when none could be claimed.
    UniqueFd claim(const std::string& target);

private:
    // The path of slot n.
    std::string slotPath(size_t slot) const;
    // The next slot to keep a file in, advancing the cursor.
    size_t nextKeepSlot();

    std::string directory_;
    size_t limit_;
    // Separate cursors: claims follow the keeps around the ring of slots.
    std::atomic<size_t> keepCursor_{0};
    std::atomic<size_t> claimCursor_{0};
};

}  // namespace postern::queue
