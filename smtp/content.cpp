// content.cpp: streaming a queue file's content into DATA (see content.h).
#include "content.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace postern::smtp {

ContentStream::ContentStream(int fd, uint64_t offset, uint64_t length, size_t lineLengthLimit)
    : fd_(fd), next_(offset), remaining_(length), encoder_(lineLengthLimit) {}

Status ContentStream::fill(evbuffer* out, size_t target) {
    char piece[kPieceBytes];  // on the stack: the worker is one thread, one piece at a time
    while (!finished_ && evbuffer_get_length(out) < target) {
        encoded_.clear();
        if (remaining_ == 0) {
            encoder_.finish(encoded_);
            finished_ = true;
        } else {
            const size_t want = remaining_ < kPieceBytes ? size_t(remaining_) : kPieceBytes;
            const ssize_t got = ::pread(fd_, piece, want, static_cast<off_t>(next_));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return fail(std::string("error reading the queue file: ") + std::strerror(errno));
            if (got == 0) return fail("the queue file ended before its content");
            next_ += static_cast<uint64_t>(got);
            remaining_ -= static_cast<uint64_t>(got);
            encoder_.encode(std::string_view(piece, static_cast<size_t>(got)), encoded_);
        }
        if (evbuffer_add(out, encoded_.data(), encoded_.size()) != 0) return fail("out of memory");
    }
    return {};
}

}  // namespace postern::smtp
