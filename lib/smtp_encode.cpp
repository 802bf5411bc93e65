// smtp_encode.cpp: dot-stuffing and line-end canonicalisation for the SMTP client; see
// smtp_encode.h.
#include "smtp_encode.h"

namespace postern {

void DataEncoder::encode(std::string_view content, std::string& out) {
    out.reserve(out.size() + content.size() + content.size() / 64 + 8);
    for (char c : content) {
        if (crPending_) {
            crPending_ = false;
            endLine(out);  // CR LF, or a bare CR: either way the line ends here
            if (c == '\n') continue;
        }
        if (c == '\r') {
            crPending_ = true;
        } else if (c == '\n') {
            endLine(out);  // a bare LF
        } else {
            put(c, out);
        }
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
