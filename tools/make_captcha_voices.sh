#!/usr/bin/env bash
# Regenerate the French digit voices of the audio CAPTCHA (captcha_challenge/voices/fr/<digit>/*.wav).
#
# Why: the `captcha` library's bundled voice speaks English; RGAA 1.5 wants an audio alternative a French voter
# understands. The files are committed, so running the IdP needs neither tool; run this only to change the voices.
#
# Needs Debian's espeak-ng (speech) and sox (conversion): apt-get install -y espeak-ng sox
# Output format is the one captcha.audio.AudioCaptcha mixes without resampling: WAV, 8000 Hz, mono, 8-bit
# unsigned PCM. Several voices per digit: AudioCaptcha picks one at random for each digit it speaks, which makes the
# recording harder to match sample by sample. Dither is off (-D) so that a regeneration is byte-for-byte stable.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="captcha_challenge/voices/fr"
WORDS=(zéro un deux trois quatre cinq six sept huit neuf)
# espeak-ng voice (French, France) + variant, and words per minute: two male voices and a female one, at an easy
# pace.
VOICES=("fr-fr+m3:150" "fr-fr+f2:140" "fr-fr:160")

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y espeak-ng sox" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$OUT"
for digit in "${!WORDS[@]}"; do
  mkdir -p "$OUT/$digit"
  n=0
  for spec in "${VOICES[@]}"; do
    voice="${spec%%:*}"
    speed="${spec##*:}"
    n=$((n + 1))
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" "${WORDS[$digit]}"
    # Trim the silence around the word (AudioCaptcha adds its own pauses) at a low threshold that keeps the soft
    # consonants ("six", "sept"), normalise the loudness, convert.
    sox -D "$tmp/raw.wav" -r 8000 -c 1 -b 8 -e unsigned-integer "$OUT/$digit/voix$n.wav" \
      silence 1 0.02 0.1% reverse silence 1 0.02 0.1% reverse gain -n -1
  done
done
echo "wrote $(find "$OUT" -name '*.wav' | wc -l) files under $OUT ($(du -sh "$OUT" | cut -f1))"
