from pinpay.cli import main

main()
