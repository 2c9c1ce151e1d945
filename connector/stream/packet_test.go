package stream

import (
	"strings"
	"testing"
)

func TestEncodeRefuses(t *testing.T) {
	for name, p := range map[string]Packet{
		"version 0":       {Type: TypePrepare},
		"version 2":       {Version: 2, Type: TypePrepare},
		"ILP type 15":     {Version: Version, Type: 15},
		"nil frame":       {Version: Version, Type: TypeReject, Frames: []Frame{StreamMoney{}, nil}},
		"over ILP's size": {Version: Version, Type: TypePrepare, Frames: []Frame{StreamData{Data: make([]byte, plaintextBytesMax)}}},
	} {
		if b, err := p.Append([]byte("x")); err == nil || string(b) != "x" {
			t.Errorf("%s: %x %v", name, b, err)
		}
	}
}

func TestDecodeRefusesOversize(t *testing.T) {
	p := Packet{Version: Version, Type: TypePrepare, Frames: []Frame{StreamData{Data: make([]byte, plaintextBytesMax-20)}}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err != nil {
		t.Fatalf("%d bytes: %v", len(b), err)
	}
	if _, err := Decode(append(b, make([]byte, plaintextBytesMax-len(b)+1)...)); err == nil {
		t.Fatal("decoded more than ILP data holds")
	}
}

func TestFrameCountBoundedByLength(t *testing.T) {
	b := []byte{1, 12, 1, 0, 1, 0, 4, 0xff, 0xff, 0xff, 0xff}
	if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "frames announced") {
		t.Fatalf("a count of 2^32-1 frames: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	names := map[string]bool{}
	for i, row := range ErrorCodes {
		if row.Code != ErrorCode(i+1) || row.Code.String() != row.Name || names[row.Name] || row.Description == "" {
			t.Errorf("row %d: %+v", i, row)
		}
		names[row.Name] = true
	}
	if len(ErrorCodes) != 9 || ErrorCode(0xff).String() != "ErrorCode(255)" {
		t.Errorf("%d codes; 255 is %s", len(ErrorCodes), ErrorCode(0xff))
	}
	if FrameType(0x30).String() != "FrameType(48)" || PacketType(1).String() != "PacketType(1)" {
		t.Error("names of unknown types")
	}
}
