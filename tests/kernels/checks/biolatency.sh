# biolatency: every block request completed is one count, by disk and operation. 20 writes of 4 KiB with O_DIRECT
# and O_DSYNC to a file in /var/tmp (on a real disk: cell.sh puts a loop-device ext4 there in a guest without one)
# each reach the disk as at least one write request, so that disk's write count grows by at least 20 (the journal
# and other writers add theirs).
BIO_FILE=/var/tmp/bpfcell-bio
bio_disk() { # the whole disk that holds /var/tmp, by its kernel name (what the majorminor decoder shows)
    local sys; sys=$(readlink -f "/sys/dev/block/$(mountpoint -d "$(df --output=target /var/tmp | tail -1)")")
    [ -f "$sys/partition" ] && sys=$(dirname "$sys")
    basename "$sys"
}
before_biolatency() {
    BIO_DISK=$(bio_disk)
    BIO_BEFORE=$(metric bio_latency_seconds_count "device=\"$BIO_DISK\".*operation=\"write\"")
}
trigger_biolatency() {
    dd if=/dev/urandom of="$BIO_FILE" bs=4096 count=20 oflag=direct,dsync status=none
    rm -f "$BIO_FILE"
}
verify_biolatency() {
    local n; n=$(( $(metric bio_latency_seconds_count "device=\"$BIO_DISK\".*operation=\"write\"") - BIO_BEFORE ))
    echo "bio_latency_seconds_count{device=$BIO_DISK,operation=write} +$n (>= 20)"
    [ "$n" -ge 20 ]
}
