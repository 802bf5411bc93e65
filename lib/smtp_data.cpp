// smtp_data.cpp: the server's content reader and end-of-data state machine; see
// smtp_data.h for the rules it enforces.
#include "smtp_data.h"

#include <algorithm>
#include <cstdlib>

namespace postern {

namespace {

bool isWsp(unsigned char c) { return c == ' ' || c == '\t'; }
bool isFieldNameChar(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

}  // namespace

DataReader::DataReader(const DataOptions& options, Framing framing, bool startAfterCrlf)
    : options_(options), framing_(framing), lineAfterCrlf_(startAfterCrlf) {}

DataReader DataReader::forData(const DataOptions& options, bool commandEndedWithCrlf) {
    // The CR LF that ended the DATA command line is the start of the end sequence.
    return DataReader(options, Framing::dotTerminated, commandEndedWithCrlf);
}

DataReader DataReader::forBdat(const DataOptions& options, bool binary) {
    return DataReader(options, binary ? Framing::chunkedBinary : Framing::chunked, false);
}

size_t DataReader::feed(std::string_view input, std::string& out) {
    size_t pos = 0;
    while (pos < input.size() && state_ != State::finished) {
        if (state_ == State::midLine) {
            const size_t run = copyRun(input.substr(pos), out);
            pos += run;
            if (run != 0) continue;
        }
        step(static_cast<unsigned char>(input[pos++]), out);
    }
    return pos;
}

void DataReader::finish(std::string& out) {
    if (framing_ == Framing::dotTerminated) std::abort();  // DATA ends by its own sequence
    if (state_ == State::finished) return;
    if (state_ == State::crSeen) {
        if (framing_ == Framing::chunkedBinary) {
            append("\r", out);
        } else {
            bareLineEnd(out);
        }
    }
    if (state_ == State::midLine) closeLineStats();  // a last line without line end
    state_ = State::finished;
}

std::optional<SmtpReply> DataReader::rejection() const {
    if (stats_.bareNewline && options_.bareNewline == BareNewlinePolicy::reject)
        return makeReply(550, "5.5.2", "Error: bare <CR> or <LF> received");
    if (stats_.tooBig) return makeReply(552, "5.3.4", "Error: message file too big");
    return std::nullopt;
}

// One byte through the line-end state machine (the heart of the smuggling defence).
void DataReader::step(unsigned char byte, std::string& out) {
    switch (state_) {
        case State::lineStart:
            state_ = State::midLine;
            loneDot_ = false;
            if (framing_ == Framing::dotTerminated && byte == '.') {
                loneDot_ = lineAfterCrlf_;  // an end only if the line before ended in CR LF
                return;                     // the dot is unstuffed: never content
            }
            step(byte, out);
            return;
        case State::midLine:
            if (byte == '\r') {
                state_ = State::crSeen;
            } else if (byte == '\n' && framing_ != Framing::chunkedBinary) {
                bareLineEnd(out);
            } else {
                append(std::string_view(reinterpret_cast<const char*>(&byte), 1), out);
            }
            return;
        case State::crSeen:
            if (byte == '\n') {
                if (loneDot_) {
                    state_ = State::finished;
                    return;
                }
                endLine(out);
                lineAfterCrlf_ = true;
                state_ = State::lineStart;
                return;
            }
            if (framing_ == Framing::chunkedBinary) {
                state_ = State::midLine;
                append("\r", out);
            } else {
                bareLineEnd(out);
            }
            step(byte, out);  // the byte after a bare CR starts the next line
            return;
        case State::finished:
            return;
    }
}

// Copies the bytes up to the next CR or LF in one go; returns how many.
size_t DataReader::copyRun(std::string_view input, std::string& out) {
    if (inHeader_ && (headerLine_ == HeaderLine::start || headerLine_ == HeaderLine::name ||
                      headerLine_ == HeaderLine::nameSpace))
        return 0;  // the header classifier looks at these bytes one by one
    size_t length = 0;
    while (length < input.size() && input[length] != '\r' && input[length] != '\n') ++length;
    if (length != 0) append(input.substr(0, length), out);
    return length;
}

void DataReader::bareLineEnd(std::string& out) {
    stats_.bareNewline = true;
    endLine(out);
    lineAfterCrlf_ = false;
    state_ = State::lineStart;
}

// Adds line content (never CR or LF) to the message.
void DataReader::append(std::string_view bytes, std::string& out) {
    loneDot_ = false;
    if (inHeader_)
        for (char c : bytes) classifyHeaderByte(static_cast<unsigned char>(c));
    for (char c : bytes)
        if (static_cast<unsigned char>(c) >= 0x80) stats_.eightBit = true;
    lineLength_ += bytes.size();
    store(bytes, out);
}

// Counts content octets and stores them while they fit the size limit; what is stored
// is always the first messageSizeLimit octets, however the input was split.
void DataReader::store(std::string_view bytes, std::string& out) {
    const uint64_t limit = options_.messageSizeLimit;
    if (limit != 0 && stats_.size + bytes.size() > limit) {
        if (stats_.size < limit) out.append(bytes.substr(0, limit - stats_.size));
        stats_.tooBig = true;
    } else {
        out.append(bytes);
    }
    stats_.size += bytes.size();
}

// Ends the current line with CR LF and settles its header and length accounting.
void DataReader::endLine(std::string& out) {
    closeLineStats();
    if (inHeader_) {
        if (headerLine_ == HeaderLine::field || headerLine_ == HeaderLine::continuation) {
            const uint64_t octets = lineLength_ + 2;
            stats_.headerSize += octets;
            logicalHeaderSize_ = headerLine_ == HeaderLine::field ? octets : logicalHeaderSize_ + octets;
            if (logicalHeaderSize_ > options_.headerSizeLimit) stats_.headerTooBig = true;
        } else {
            inHeader_ = false;  // the empty line, or a line that is no header: body begins
        }
    }
    headerLine_ = HeaderLine::start;
    lineLength_ = 0;
    store("\r\n", out);
}

// Decides from its first bytes whether a line is a header field ("Name:"), a
// continuation (starts with white space) or the first line of the body.
void DataReader::classifyHeaderByte(unsigned char byte) {
    switch (headerLine_) {
        case HeaderLine::start:
            if (isWsp(byte))
                headerLine_ = sawHeaderField_ ? HeaderLine::continuation : HeaderLine::body;
            else
                headerLine_ = isFieldNameChar(byte) ? HeaderLine::name : HeaderLine::body;
            break;
        case HeaderLine::name:
            if (byte == ':') headerLine_ = HeaderLine::field;
            else if (isWsp(byte)) headerLine_ = HeaderLine::nameSpace;  // obsolete "Name :"
            else if (!isFieldNameChar(byte)) headerLine_ = HeaderLine::body;
            break;
        case HeaderLine::nameSpace:
            if (byte == ':') headerLine_ = HeaderLine::field;
            else if (!isWsp(byte)) headerLine_ = HeaderLine::body;
            break;
        default:
            break;
    }
    if (headerLine_ == HeaderLine::field) sawHeaderField_ = true;
    if (headerLine_ == HeaderLine::body) inHeader_ = false;
}

void DataReader::closeLineStats() {
    stats_.longestLine = std::max(stats_.longestLine, lineLength_);
    if (lineLength_ > options_.lineLengthLimit) ++stats_.overlongLines;
}

}  // namespace postern
