from bridges.server import main

if __name__ == "__main__":
    main(bridge="virtualhome")
