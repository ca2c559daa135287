#!/usr/bin/perl
# tests/scripts/real/heavy.pl - hash- and regex-heavy Perl with deterministic output, run by
# tests/scripts/real_programs.sh with and without LD_PRELOAD=libquire.so (outputs must match).
# Perl's hash order is randomized per process, so everything printed is sorted.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $seed = 42;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }

# A big hash of strings to arrays, grown, pruned, grown again.
my %h;
for my $i (1 .. 300_000) {
    my $k = sprintf("k%06d", rnd() % 150_000);
    push @{ $h{$k} }, $i % 1000;
}
for my $k (grep { /3$/ } keys %h) { delete $h{$k}; }
for my $i (1 .. 50_000) { $h{"x$i"} = [ ($i) x ($i % 13) ]; }
my $sum = 0;
$sum += scalar(@{ $h{$_} }) for keys %h;
print "hash keys: ", scalar(keys %h), " elements: $sum\n";
print "hash digest: ", md5_hex(join(",", map { "$_=" . join(":", @{ $h{$_} }) } (sort keys %h)[0 .. 4999])), "\n";

# String building and regexes.
my @words;
for my $i (1 .. 100_000) {
    my $len = 1 + rnd() % 12;
    push @words, join("", map { chr(97 + rnd() % 26) } 1 .. $len);
}
my $text = join(" ", @words);
my %freq;
$freq{$1}++ while $text =~ /\b([a-e]\w{2,4})\b/g;
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 19];
print "top: @top\n";
(my $t2 = $text) =~ s/(\w)(\w*)/\U$1\E$2/g;
print "capitalized digest: ", md5_hex($t2), "\n";
my @split = split /[aeiou]+/, $text;
print "split parts: ", scalar(@split), "\n";
my $count = () = $text =~ /(?:ab|cd|ef)+/g;
print "alternations: $count\n";

# Nested structures, sort, join, big strings.
my @recs = map { { id => $_, name => "n" . ($_ * 7 % 1009), tags => [ map { "t$_" } 1 .. ($_ % 7) ] } } 1 .. 100_000;
my @sorted = sort { $a->{name} cmp $b->{name} || $a->{id} <=> $b->{id} } @recs;
print "sorted digest: ", md5_hex(join(";", map { "$_->{id}/$_->{name}/" . join(",", @{ $_->{tags} }) } @sorted)), "\n";
my $big = "";
$big .= sprintf("%08x", rnd()) for 1 .. 200_000;
print "big length: ", length($big), " digest: ", md5_hex($big), "\n";
my %seen;
my @uniq = grep { !$seen{$_}++ } unpack("(A4)*", $big);
print "unique chunks: ", scalar(@uniq), "\n";
