// deferred_index.h: when each message in deferred/ is due for its next attempt, in memory,
// so qmgr takes deferred mail at its time without opening every file at every scan. It is
// filled when qmgr defers a message and by the scans of deferred/ (which read the schedule
// of files it does not know yet); about 100 bytes a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace postern::qmgr {

class DeferredIndex {
  public:
    // Records (or moves) a message's due time.
    void set(const std::string& id, int64_t dueMicros);
    // Forgets a message; false when it was not there.
    bool erase(const std::string& id);
    bool contains(const std::string& id) const { return due_.count(id) != 0; }
    size_t size() const { return due_.size(); }

    // Takes out up to `max` messages due at `now`, earliest first.
    std::vector<std::string> takeDue(int64_t now, size_t max);
    // The earliest due time, if any message is waiting.
    std::optional<int64_t> earliest() const;
    // Forgets the messages that are not in `present` (removed behind qmgr's back).
    void retainOnly(const std::unordered_set<std::string>& present);

  private:
    std::unordered_map<std::string, int64_t> due_;
    std::set<std::pair<int64_t, std::string>> order_;
};

}  // namespace postern::qmgr
