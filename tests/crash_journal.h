// The journals of the crash helpers: steps append "<key> ok" (or "<key>
// failed") to DIR/journal.log after their function ran, and each resume
// writes a marker line "== ..." there and, under the same marker, the keys
// the store held done at that moment to DIR/persisted.log. A key that ran
// after a marker whose persisted set holds it is a persisted step that ran
// again.
#ifndef RUNIC_TESTS_CRASH_JOURNAL_H_
#define RUNIC_TESTS_CRASH_JOURNAL_H_

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace runic::test {

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The keys of DIR/journal.log's "<key> ok" lines that the store held done
// before they ran (see above), in journal order; `ran` (if given) gets every
// key that ran ok.
inline std::vector<std::string> PersistedThatRanAgain(const std::string& dir, std::set<std::string>* ran = nullptr) {
  std::map<std::string, std::set<std::string>> persisted_at;
  std::string current;
  for (const std::string& line : ReadLines(dir + "/persisted.log")) {
    if (line.rfind("== ", 0) == 0) {
      current = line;
    } else {
      persisted_at[current].insert(line);
    }
  }
  std::set<std::string> persisted;
  std::vector<std::string> again;
  for (const std::string& line : ReadLines(dir + "/journal.log")) {
    if (line.rfind("== ", 0) == 0) {
      persisted.insert(persisted_at[line].begin(), persisted_at[line].end());
      continue;
    }
    if (!line.ends_with(" ok")) continue;  // a failed attempt, or a line torn by the kill
    const std::string key = line.substr(0, line.rfind(' '));
    if (ran != nullptr) ran->insert(key);
    if (persisted.count(key)) again.push_back(key);
  }
  return again;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_CRASH_JOURNAL_H_
