module github.com/laurel-badges/laurel/proto

go 1.26
