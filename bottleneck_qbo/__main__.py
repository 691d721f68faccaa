from bottleneck_qbo.cli import main

main()
