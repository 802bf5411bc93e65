// content.cpp: streaming a queue file's content into DATA (see content.h).
#include "content.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace postern::smtp {

namespace {

// One read buffer and one encode buffer for the whole process: the worker is one thread,
// and a piece is handed to the output evbuffer (a copy) before the next one is read.
std::string& readScratch() {
    static std::string buffer;
    return buffer;
}

std::string& encodeScratch() {
    static std::string buffer;
    return buffer;
}

}  // namespace

ContentStream::ContentStream(int fd, uint64_t offset, uint64_t length, size_t lineLengthLimit)
    : fd_(fd), next_(offset), remaining_(length), encoder_(lineLengthLimit) {}

Status ContentStream::fill(evbuffer* out, size_t target) {
    std::string& piece = readScratch();
    std::string& encoded = encodeScratch();
    while (!finished_ && evbuffer_get_length(out) < target) {
        encoded.clear();
        if (remaining_ == 0) {
            encoder_.finish(encoded);
            finished_ = true;
        } else {
            const size_t want = remaining_ < kPieceBytes ? size_t(remaining_) : kPieceBytes;
            piece.resize(want);
            const ssize_t got = ::pread(fd_, piece.data(), want, static_cast<off_t>(next_));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return fail(std::string("error reading the queue file: ") + std::strerror(errno));
            if (got == 0) return fail("the queue file ended before its content");
            next_ += static_cast<uint64_t>(got);
            remaining_ -= static_cast<uint64_t>(got);
            encoder_.encode(std::string_view(piece.data(), static_cast<size_t>(got)), encoded);
        }
        if (evbuffer_add(out, encoded.data(), encoded.size()) != 0) return fail("out of memory");
    }
    return {};
}

}  // namespace postern::smtp
