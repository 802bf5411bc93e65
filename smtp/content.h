// content.h: the message content on its way from the queue file to the server. Reads the
// content record (offset, length) of the open queue file piece by piece with pread and
// encodes it for DATA (lib/smtp_encode: CR LF line ends, dot-stuffing, long lines broken),
// so a 10 MB message costs a piece or two (tens of KB), not 10 MB, per delivery; the
// stream exists only while the content is being sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "event.h"
#include "result.h"
#include "smtp_encode.h"

namespace postern::smtp {

class ContentStream {
  public:
    // Content bytes read per piece.
    static constexpr size_t kPieceBytes = 32 * 1024;

    // FD stays the caller's; it must outlive the stream.
    ContentStream(int fd, uint64_t offset, uint64_t length, size_t lineLengthLimit);

    // Appends encoded pieces to OUT until it holds at least TARGET bytes or the content
    // ends; after the last piece it appends the final ".\r\n". A read error or a file that
    // ends early is an error (the caller must then not end the DATA).
    Status fill(evbuffer* out, size_t target);
    // True once the final ".\r\n" was appended.
    bool finished() const { return finished_; }

  private:
    int fd_;
    uint64_t next_;       // file offset of the next content byte
    uint64_t remaining_;  // content bytes not read yet
    DataEncoder encoder_;
    std::string encoded_;  // one encoded piece on its way into the output buffer
    bool finished_ = false;
};

}  // namespace postern::smtp
