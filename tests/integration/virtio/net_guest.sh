# Guest side of the net suite (installed as /etc/ember-test, run by busybox sh).
# eth0 on tap0 (172.16.0.0/24, no limit), eth1 on tap1 (172.16.1.0/24, TX bandwidth limit).
sha() { sha256sum | cut -d' ' -f1; }
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
ip link set eth1 up && ip addr add 172.16.1.2/24 dev eth1
echo "GUEST-MACS=$(cat /sys/class/net/eth0/address) $(cat /sys/class/net/eth1/address)"
if ping -c 3 -W 5 172.16.0.1 >/dev/null; then echo "GUEST-PING=ok"; else echo "GUEST-PING=failed"; fi

# busybox nc stops sending once its peer half-closes: give the listeners a stdin that never ends.
mkfifo /run/hold
exec 3<>/run/hold
echo "GUEST-NET-UP"
# The sandbox pings us, then connects here to say go on.
timeout 120 nc -l -p 6000 <&3 >/run/go
echo "GUEST-GO=$(cat /run/go)"

# 64 MiB of random data guest -> sandbox, from a tmpfs so that the transfer itself is quick;
# guestbench returns once the sandbox has it all and closed the connection.
mount -t tmpfs -o size=80m tmpfs /mnt
head -c 67108864 /dev/urandom >/mnt/blob
echo "GUEST-TCP-SHA=$(sha </mnt/blob)"
/sbin/guestbench tcpsend 172.16.0.1 5001 64 /mnt/blob
rm -f /mnt/blob

# 8 MiB without a limit and then through the rate-limited interface; the sandbox times both.
/sbin/guestbench tcpsend 172.16.0.1 5003 8
/sbin/guestbench tcpsend 172.16.1.1 5002 8
echo "GUEST-LIMITED=done"

# Integrity: 16 MiB the sandbox sends arrive whole (GUEST-RX-SHA), go back whole, and go back once
# more with a reset as soon as the last write() returns: the sandbox checks what it got is a
# prefix of what it sent, never other bytes.
echo "GUEST-RX-READY"
timeout 300 nc -l -p 6001 <&3 >/mnt/rx
echo "GUEST-RX-SHA=$(sha </mnt/rx) bytes=$(wc -c </mnt/rx)"
/sbin/guestbench tcpsend 172.16.0.1 5004 16 /mnt/rx
/sbin/guestbench tcpsend 172.16.0.1 5005 16 /mnt/rx nowait
reboot -n -f   # no sync: as soon as possible after the write
