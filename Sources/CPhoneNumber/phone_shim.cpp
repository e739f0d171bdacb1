#include "phone_shim.h"

#include <cstring>
#include <map>
#include <regex>
#include <string>

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

namespace i18n { namespace phonenumbers {
// Exported by libphonenumber (metadata.cc), not declared in its installed headers.
int metadata_size();
const void *metadata_get();
}}

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

/// The metadata collection, parsed once (thread-safe static initialisation).
const PhoneMetadataCollection &collection() {
    static const PhoneMetadataCollection *parsed = [] {
        auto *c = new PhoneMetadataCollection();
        c->ParseFromArray(i18n::phonenumbers::metadata_get(), i18n::phonenumbers::metadata_size());
        return c;
    }();
    return *parsed;
}

bool allDigits(const std::string &s) {
    if (s.empty()) return false;
    for (char c : s) if (c < '0' || c > '9') return false;
    return true;
}

void addLengths(const PhoneNumberDesc &desc, uint32_t *bits) {
    for (int i = 0; i < desc.possible_length_size(); i++) {
        int n = desc.possible_length(i);
        if (n > 0 && n < 32) *bits |= 1u << n;
    }
}

uint32_t possibleLengths(const PhoneMetadata &m) {
    uint32_t bits = 0;
    addLengths(m.general_desc(), &bits);
    if (bits == 0) {
        // Older metadata keeps lengths only per type.
        addLengths(m.fixed_line(), &bits); addLengths(m.mobile(), &bits); addLengths(m.toll_free(), &bits);
        addLengths(m.premium_rate(), &bits); addLengths(m.shared_cost(), &bits); addLengths(m.personal_number(), &bits);
        addLengths(m.voip(), &bits); addLengths(m.pager(), &bits); addLengths(m.uan(), &bits); addLengths(m.voicemail(), &bits);
    }
    return bits;
}

void copy(const std::string &s, char *out, size_t capacity) {
    size_t n = s.size() < capacity - 1 ? s.size() : 0;   // too long: left empty (no fast path)
    memcpy(out, s.data(), n);
    out[n] = 0;
}

int alternation(const std::string &p, size_t &i);

/// The longest text a sequence of the pattern can match (up to `|` or `)`); -1: unbounded, or a
/// construct this reading does not know.
int sequence(const std::string &p, size_t &i) {
    int total = 0;
    while (i < p.size() && p[i] != '|' && p[i] != ')') {
        int atom;
        char c = p[i];
        if (c == '(') {
            i++;
            if (p.compare(i, 2, "?:") == 0) i += 2;
            atom = alternation(p, i);
            if (atom < 0 || i >= p.size() || p[i] != ')') return -1;
            i++;
        } else if (c == '[') {
            size_t close = p.find(']', i + 1);
            if (close == std::string::npos) return -1;
            i = close + 1;
            atom = 1;
        } else if (c == '\\' && i + 1 < p.size() && p[i + 1] == 'd') {
            i += 2;
            atom = 1;
        } else if (c >= '0' && c <= '9') {
            i++;
            atom = 1;
        } else {
            return -1;
        }
        if (i < p.size() && p[i] == '?') {
            i++;
        } else if (i < p.size() && p[i] == '{') {
            size_t close = p.find('}', i);
            if (close == std::string::npos) return -1;
            std::string counts = p.substr(i + 1, close - i - 1);
            size_t comma = counts.find(',');
            std::string most = comma == std::string::npos ? counts : counts.substr(comma + 1);
            if (!allDigits(most)) return -1;   // `{n,}`: unbounded
            atom *= std::stoi(most);
            i = close + 1;
        } else if (i < p.size() && (p[i] == '*' || p[i] == '+')) {
            return -1;
        }
        total += atom;
    }
    return total;
}

int alternation(const std::string &p, size_t &i) {
    int most = sequence(p, i);
    while (most >= 0 && i < p.size() && p[i] == '|') {
        i++;
        int other = sequence(p, i);
        most = other < 0 ? -1 : (other > most ? other : most);
    }
    return most;
}

/// The most characters `pattern` can match from its start, for the forms the metadata's prefix
/// patterns take (digits, `\d`, classes, groups, `|`, `?`, `{n}`, `{n,m}`); 0 when unbounded or
/// another form.
int maxMatchLength(const std::string &pattern) {
    size_t i = 0;
    int most = alternation(pattern, i);
    return most > 0 && i == pattern.size() ? most : 0;
}

}  // namespace

extern "C" int mp_phone_region_facts(const char *region, mp_region_facts *facts) {
    memset(facts, 0, sizeof *facts);
    const auto &c = collection();
    for (int i = 0; i < c.metadata_size(); i++) {
        const PhoneMetadata &m = c.metadata(i);
        if (m.id().size() != 2 || m.id()[0] != region[0] || m.id()[1] != region[1]) continue;
        facts->country_code = m.country_code();
        facts->possible_lengths = possibleLengths(m);
        if (allDigits(m.national_prefix())) copy(m.national_prefix(), facts->national_prefix, sizeof facts->national_prefix);
        if (allDigits(m.international_prefix())) copy(m.international_prefix(), facts->international_prefix, sizeof facts->international_prefix);
        bool plainForParsing = !m.has_national_prefix_for_parsing() || m.national_prefix_for_parsing() == m.national_prefix();
        facts->plain_national_prefix = facts->national_prefix[0] != 0 && plainForParsing && !m.has_national_prefix_transform_rule();
        facts->no_prefix_rule = m.national_prefix().empty() && m.national_prefix_for_parsing().empty();
        facts->main_country_for_code = m.main_country_for_code();
        facts->idd_pattern = !m.international_prefix().empty() && !allDigits(m.international_prefix());
        facts->idd_max_length = facts->idd_pattern ? maxMatchLength(m.international_prefix()) : 0;
        return 1;
    }
    return 0;
}

namespace {

const PhoneMetadata *metadataFor(const std::string &id) {
    const auto &c = collection();
    for (int i = 0; i < c.metadata_size(); i++) {
        if (c.metadata(i).id() == id) return &c.metadata(i);
    }
    return nullptr;
}

/// One compiled pattern per region, kind and thread (the patterns are read-only metadata).
const std::regex *pattern(const char *region, bool international) {
    thread_local std::map<std::string, std::regex> compiled;
    std::string key = std::string(region, 2) + (international ? "i" : "n");
    auto found = compiled.find(key);
    if (found == compiled.end()) {
        const PhoneMetadata *m = metadataFor(std::string(region, 2));
        const std::string *text = m == nullptr ? nullptr
            : international ? &m->international_prefix() : &m->national_prefix_for_parsing();
        if (text == nullptr || text->empty()) return nullptr;
        found = compiled.emplace(key, std::regex(*text, std::regex::ECMAScript | std::regex::optimize)).first;
    }
    return &found->second;
}

}  // namespace

extern "C" int32_t mp_phone_starts_with_idd(const char *region, const char *digits, int32_t length) {
    const std::regex *re = pattern(region, true);
    if (re == nullptr) return 0;
    std::cmatch match;
    return std::regex_search(digits, digits + length, match, *re, std::regex_constants::match_continuous) ? 1 : 0;
}

extern "C" int32_t mp_phone_strip_national_prefix(const char *region, const char *digits, int32_t length, char *out, int32_t capacity) {
    const std::regex *re = pattern(region, false);
    if (re == nullptr) return -1;
    std::cmatch match;
    if (!std::regex_search(digits, digits + length, match, *re, std::regex_constants::match_continuous)) return -1;
    const PhoneMetadata *m = metadataFor(std::string(region, 2));
    std::string national;
    size_t groups = match.size();
    if (m->national_prefix_transform_rule().empty() || groups < 2 || !match[groups - 1].matched) {
        national.assign(digits + match.length(0), digits + length);
    } else {
        national = match.format(m->national_prefix_transform_rule()) + std::string(digits + match.length(0), digits + length);
    }
    if (national.size() > (size_t)capacity) return -1;
    memcpy(out, national.data(), national.size());
    return (int32_t)national.size();
}

extern "C" uint32_t mp_phone_calling_code_lengths(int32_t calling_code, int32_t *national_prefix_digit) {
    const auto &c = collection();
    const PhoneMetadata *found = nullptr;
    for (int i = 0; i < c.metadata_size(); i++) {
        const PhoneMetadata &m = c.metadata(i);
        if (m.country_code() != calling_code) continue;
        if (found == nullptr || m.main_country_for_code()) found = &m;
    }
    if (found == nullptr) return 0;
    if (national_prefix_digit) {
        const std::string &p = found->national_prefix();
        *national_prefix_digit = p.size() == 1 && p[0] >= '0' && p[0] <= '9' ? p[0] - '0' : -1;
    }
    // A number of a shared code (+1, +7) is judged possible by its main region's lengths.
    return possibleLengths(*found);
}

extern "C" void mp_phone_prepare(void) {
    PhoneNumberUtil::GetInstance();
}

extern "C" int32_t mp_phone_e164(const char *text, int32_t length, const char *region, char *out, int32_t capacity, int32_t *valid) {
    const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    std::string input(text, (size_t)length);
    std::string regionCode = region ? std::string(region, 2) : std::string("ZZ");
    if (util->Parse(input, regionCode, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return 0;
    // A number of an impossible length is not written as if it were one.
    if (util->IsPossibleNumberWithReason(number) != PhoneNumberUtil::IS_POSSIBLE) return 0;
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    if (formatted.size() > (size_t)capacity) return 0;
    memcpy(out, formatted.data(), formatted.size());
    if (valid) *valid = util->IsValidNumber(number) ? 1 : 0;
    return (int32_t)formatted.size();
}
