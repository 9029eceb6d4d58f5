#!/bin/sh
# Runs inside the test VM as aks-scenario.service (tools/prepare-systemd-node.sh installs the unit): waits for
# systemd to finish booting, runs this boot's part of the scenario, then reboots or powers off as it says.
# qemu runs with -no-reboot, so a reboot ends qemu and the runner boots the same disk again.
# The payload disk is mounted at /aks: dotnet/, image/ (the container image's file tree), scenario/, bin/.

# "degraded" is fine: the scenario checks what it needs itself.
systemctl is-system-running --wait >/dev/null 2>&1 || true

mkdir -p /var/lib/aks-vm
boot=$(( $(cat /var/lib/aks-vm/boots 2>/dev/null || echo 0) + 1 ))
echo "$boot" >/var/lib/aks-vm/boots
echo "aks-vm: boot $boot, running the scenario"

export DOTNET_ROOT=/aks/dotnet PATH="/aks/dotnet:$PATH" HOME=/root
export DOTNET_CLI_TELEMETRY_OPTOUT=1 POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off
export PSModulePath=/aks/image/usr/local/share/powershell/Modules
/aks/image/usr/local/bin/pwsh -NoProfile -NonInteractive -File /aks/scenario/Invoke-NodeScenario.ps1 \
  -Boot "$boot" -ResultPath /dev/ttyS1
code=$?
echo "aks-vm: boot $boot scenario exit code $code"
sync
# Exit code 10: the scenario wants the next boot (immutable rules load only after a reboot).
if [ "$code" = 10 ]; then systemctl reboot; else systemctl poweroff; fi
