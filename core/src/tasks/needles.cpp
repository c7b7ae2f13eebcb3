// SPDX-License-Identifier: GPL-3.0-or-later
// Multi-needle retrieval after the DIFF paper (diff-attention.md 5.1), scaled down to a word vocabulary
// small enough for toy models: short filler sentences, city needles, numbers as separate digits.
#include "tasks/task_internal.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace attn::tasks {

namespace {

// Plain filler: no digits, no city, none of "magic"/"number", so nothing in it resembles a needle.
const char* const kFiller[] = {
    "the grass is green .",
    "the sky is blue .",
    "the sun is warm today .",
    "a bird sings in the tree .",
    "the river runs to the sea .",
    "we walk along the quiet road .",
    "the old dog sleeps by the door .",
    "rain falls on the small house .",
    "the children play in the park .",
    "a cat sits on the wall .",
    "the wind moves the tall trees .",
    "the bread is fresh and soft .",
    "the lake is calm in the morning .",
    "the stars shine at night .",
    "a boat drifts on the water .",
    "the farmer works in the field .",
    "the road is long and dry .",
    "snow covers the high hills .",
    "the clock on the wall ticks .",
    "a child reads a book .",
    "the flowers open in spring .",
    "the train leaves at noon .",
    "the market is busy today .",
    "leaves fall from the trees in autumn .",
    "the coffee is hot .",
    "a man paints the fence .",
    "the moon rises over the hills .",
    "the fish swim in the pond .",
    "the window is open .",
    "a small fire burns in the stove .",
};

const char* const kCities[] = {
    "paris",
    "london",
    "berlin",
    "madrid",
    "rome",
    "vienna",
    "prague",
    "warsaw",
    "oslo",
    "stockholm",
    "helsinki",
    "dublin",
    "lisbon",
    "athens",
    "budapest",
    "brussels",
    "amsterdam",
    "zurich",
    "geneva",
    "munich",
    "milan",
    "naples",
    "venice",
    "florence",
    "barcelona",
    "seville",
    "porto",
    "krakow",
    "riga",
    "tallinn",
    "vilnius",
    "sofia",
    "bucharest",
    "belgrade",
    "zagreb",
    "istanbul",
    "cairo",
    "tokyo",
    "seoul",
    "toronto",
};

constexpr size_t kFillerCount = sizeof(kFiller) / sizeof(kFiller[0]);
constexpr size_t kCityCount = sizeof(kCities) / sizeof(kCities[0]);

int wordCount(const std::string& text)
{
    int n = 0;
    bool inWord = false;
    for (char c : text) {
        const bool space = c == ' ';
        n += (!space && !inWord) ? 1 : 0;
        inWord = !space;
    }
    return n;
}

std::string digits(int number)
{
    const std::string s = std::to_string(number);
    std::string out;
    for (char c : s) {
        if (!out.empty())
            out += ' ';
        out += c;
    }
    return out;
}

std::string needleText(const std::string& city, int number)
{
    return "the magic number of " + city + " is " + digits(number) + " .";
}

std::string questionText(const std::vector<std::string>& cities)
{
    if (cities.size() == 1)
        return "what is the magic number of " + cities[0] + " ?";
    std::string list;
    for (size_t i = 0; i < cities.size(); ++i) {
        if (i > 0)
            list += i + 1 == cities.size() ? " and " : " , ";
        list += cities[i];
    }
    return "what are the magic numbers of " + list + " ?";
}

} // namespace

int needlesMaxSentenceWords()
{
    int most = 0;
    for (const char* s : kFiller)
        most = std::max(most, wordCount(s));
    return most;
}

int needlesCityCount()
{
    return static_cast<int>(kCityCount);
}

TaskSample generateNeedles(const TaskOptions& options, Rng& rng)
{
    // Filler: whole sentences until at least contextWords words; boundary[k] = filler words before
    // sentence k, and boundary[nSentences] = the whole filler (a needle may also go last).
    std::vector<size_t> sentences;
    std::vector<int> boundary = {0};
    while (boundary.back() < options.contextWords) {
        sentences.push_back(static_cast<size_t>(uniformInt(rng, 0, static_cast<int64_t>(kFillerCount) - 1)));
        boundary.push_back(boundary.back() + wordCount(kFiller[sentences.back()]));
    }
    const int fillerWords = boundary.back();

    const int nNeedles = options.nNeedles;
    const std::vector<size_t> cityIndex = sampleDistinct(rng, kCityCount, static_cast<size_t>(nNeedles));
    std::vector<int> numbers;
    while (numbers.size() < static_cast<size_t>(nNeedles)) {
        const auto n = static_cast<int>(uniformInt(rng, 1000, 9999));
        if (std::find(numbers.begin(), numbers.end(), n) == numbers.end())
            numbers.push_back(n);
    }

    // Needle 0 is the answer needle, placed by depth. Depth is measured in filler words, as the paper
    // measures it in the haystack; the target is rounded down to the sentence boundary at or before it.
    const int requested = options.depthPercent >= 0 ? options.depthPercent : static_cast<int>(uniformInt(rng, 0, 100));
    const auto target = static_cast<int>(std::lround(requested / 100.0 * fillerWords));
    size_t answerSlot = 0;
    for (size_t k = 0; k < boundary.size(); ++k) {
        if (boundary[k] <= target)
            answerSlot = k;
    }
    // Every other needle (queried or distractor) goes to a distinct random boundary.
    std::vector<int> needleAt(boundary.size(), -1);
    needleAt[answerSlot] = 0;
    const std::vector<size_t> others = sampleDistinct(rng, boundary.size() - 1, static_cast<size_t>(nNeedles - 1));
    for (size_t i = 0; i < others.size(); ++i) {
        const size_t slot = others[i] < answerSlot ? others[i] : others[i] + 1; // skip the answer slot
        needleAt[slot] = static_cast<int>(i + 1);
    }

    TaskSample sample;
    std::vector<std::pair<size_t, size_t>> needleSpan(static_cast<size_t>(nNeedles));
    TextBuilder context;
    for (size_t k = 0; k < boundary.size(); ++k) {
        if (needleAt[k] >= 0) {
            const auto i = static_cast<size_t>(needleAt[k]);
            needleSpan[i] = context.append(needleText(kCities[cityIndex[i]], numbers[i]));
        }
        if (k < sentences.size())
            context.append(kFiller[sentences[k]]);
    }
    sample.context = context.take();

    // Queried cities are needles 0 .. R-1, so the first one asked about is the depth-placed needle.
    std::vector<std::string> queried;
    TextBuilder answer;
    for (int i = 0; i < options.nQueried; ++i) {
        queried.emplace_back(kCities[cityIndex[static_cast<size_t>(i)]]);
        if (i > 0)
            answer.append(";");
        answer.append(digits(numbers[static_cast<size_t>(i)]));
        sample.answerSpans.push_back(needleSpan[static_cast<size_t>(i)]);
    }
    sample.question = questionText(queried);
    sample.answer = answer.take();
    sample.depthPercent = fillerWords > 0 ? std::lround(100.0 * boundary[answerSlot] / fillerWords) : 0;
    return sample;
}

std::vector<std::string> needlesWords()
{
    std::vector<std::string> words;
    for (const char* s : kFiller)
        addWords(words, s);
    addWords(words, "the magic number of is . what are numbers and , ? ;");
    for (const char* c : kCities)
        addWords(words, c);
    for (int d = 0; d <= 9; ++d)
        words.push_back(std::to_string(d));
    return words;
}

} // namespace attn::tasks
