module github.com/sctpgw/sctpgw

go 1.26.8
