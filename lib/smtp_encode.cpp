// smtp_encode.cpp: dot-stuffing and line-end canonicalisation for the SMTP client; see
// smtp_encode.h.
#include "smtp_encode.h"

#include <algorithm>
#include <cstring>

namespace postern {

// Ordinary octets go out in runs up to the next CR or LF (one append per run, not per
// octet: the per-octet loop was the smtp worker's hottest function with 100 KiB messages).
void DataEncoder::encode(std::string_view content, std::string& out) {
    out.reserve(out.size() + content.size() + content.size() / 64 + 8);
    size_t at = 0;
    while (at < content.size()) {
        char c = content[at];
        if (crPending_) {
            crPending_ = false;
            endLine(out);  // CR LF, or a bare CR: either way the line ends here
            if (c == '\n') {
                ++at;
                continue;
            }
        }
        if (c == '\r') {
            crPending_ = true;
            ++at;
        } else if (c == '\n') {
            endLine(out);  // a bare LF
            ++at;
        } else {
            size_t end = lineBreakFrom(content, at);
            putRun(content.substr(at, end - at), out);
            at = end;
        }
    }
}

size_t DataEncoder::lineBreakFrom(std::string_view content, size_t from) {
    const char* start = content.data() + from;
    size_t length = content.size() - from;
    // Bounded by the LF, so content without CRs is not scanned to its end for each line.
    const void* lf = std::memchr(start, '\n', length);
    size_t untilLf = lf ? static_cast<const char*>(lf) - start : length;
    const void* cr = std::memchr(start, '\r', untilLf);
    return from + (cr ? static_cast<size_t>(static_cast<const char*>(cr) - start) : untilLf);
}

// Same as put() for each octet of `run` (which holds no CR or LF), a line's worth at once.
void DataEncoder::putRun(std::string_view run, std::string& out) {
    while (!run.empty()) {
        put(run.front(), out);
        run.remove_prefix(1);
        size_t room = run.size();
        if (lineLengthLimit_ != 0) room = std::min(room, lineLengthLimit_ - std::min(column_, lineLengthLimit_));
        out.append(run.data(), room);
        column_ += room;
        run.remove_prefix(room);
    }
}

void DataEncoder::finish(std::string& out) {
    if (crPending_ || !atLineStart_) endLine(out);
    crPending_ = false;
    out += ".\r\n";
}

void DataEncoder::put(char c, std::string& out) {
    if (lineLengthLimit_ != 0 && column_ >= lineLengthLimit_) {
        out += "\r\n ";  // the continuation starts with a space, so it never needs a dot
        column_ = 1;
        ++brokenLines_;
    } else if (atLineStart_ && c == '.') {
        out += '.';
    }
    atLineStart_ = false;
    out += c;
    ++column_;
}

void DataEncoder::endLine(std::string& out) {
    out += "\r\n";
    column_ = 0;
    atLineStart_ = true;
}

std::string encodeData(std::string_view content, size_t lineLengthLimit) {
    DataEncoder encoder(lineLengthLimit);
    std::string out;
    encoder.encode(content, out);
    encoder.finish(out);
    return out;
}

}  // namespace postern
