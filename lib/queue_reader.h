// queue_reader.h: the strict queue file parser. It takes a whole file (from a descriptor
// or a byte buffer) and gives either a complete QueueMessage or an error that says why not
// ("truncated: no end record", "record 7 (content) at offset 912: length 4294967295 beyond
// end of file", "record 3 at offset 40: unknown record type 0x51", ...).
//
// It never reads outside the file, never trusts a length before checking it against the
// bytes that are there, and reads the content only as (offset, length): a 10 MB message
// costs a few small reads. The layout is in queue_format.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "queue_types.h"
#include "result.h"

namespace postern::queue {

// Random read access to the bytes of one queue file.
class QueueFileSource {
public:
    virtual ~QueueFileSource() = default;
    // The file size; fixed while a parse runs.
    virtual uint64_t size() const = 0;
    // Reads exactly `length` bytes at `offset` into `out`; offset + length <= size().
    virtual Status read(uint64_t offset, size_t length, std::string& out) = 0;
};

// A source over bytes in memory (the fuzz target, the in-memory queue, tests).
class BufferSource : public QueueFileSource {
public:
    explicit BufferSource(std::string_view bytes) : bytes_(bytes) {}
    uint64_t size() const override { return bytes_.size(); }
    Status read(uint64_t offset, size_t length, std::string& out) override;

private:
    std::string_view bytes_;
};

// Parses a whole queue file; refuses anything incomplete or malformed.
Result<QueueMessage> parseQueueFile(QueueFileSource& source);

// Parses a queue file held in memory (the fuzz entry point).
Result<QueueMessage> parseQueueFile(std::string_view bytes);

}  // namespace postern::queue
